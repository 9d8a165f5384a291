/*
 * The benchmark's clock, as a program proa can run and be run by; CLOCK_MONOTONIC in
 * nanoseconds, the clock Node's process.hrtime.bigint() reads, so that every figure is
 * one clock.
 *   clock stamp [hold]  prints "clock start NS" first thing; with hold, waits for a line
 *                       (or EOF) on stdin; prints "clock exit NS" and exits 0.
 *   clock run CMD...    runs CMD and waits for it; prints to stderr
 *                       "clock exited NS maxrss KB status N" (wait4's rusage).
 * Static, so its first instruction is not behind a dynamic loader.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  char buf[128];
  if (argc >= 2 && strcmp(argv[1], "stamp") == 0) {
    long long start = now();
    int n = snprintf(buf, sizeof buf, "clock start %lld\n", start);
    write(1, buf, n);
    if (argc >= 3 && strcmp(argv[2], "hold") == 0) {
      char c;
      while (read(0, &c, 1) == 1 && c != '\n') {}
    }
    n = snprintf(buf, sizeof buf, "clock exit %lld\n", now());
    write(1, buf, n);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "run") == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      execvp(argv[2], argv + 2);
      _exit(127);
    }
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    long long t = now();
    int n = snprintf(buf, sizeof buf, "clock exited %lld maxrss %ld status %d\n", t, ru.ru_maxrss,
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    write(2, buf, n);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  fprintf(stderr, "usage: clock stamp [hold] | clock run CMD...\n");
  return 2;
}
