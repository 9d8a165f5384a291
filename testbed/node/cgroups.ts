// The kubelet's cgroup root: made in every cgroup v1 hierarchy before the kubelet starts
// (it refuses a root that does not exist), removed after the node stops.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The mounted v1 hierarchies, e.g. cpu, memory, pids, systemd. */
export function cgroupHierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.match(/ \/sys\/fs\/cgroup\/([^ ]+) .* - cgroup /)?.[1])
    .filter((h): h is string => h !== undefined);
}

export function isCgroupV1(): boolean {
  return !readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => / \/sys\/fs\/cgroup .* - cgroup2 /.test(line));
}

export function makeCgroupRoot(cgroupRoot: string): void {
  for (const h of cgroupHierarchies()) {
    const dir = join('/sys/fs/cgroup', h, cgroupRoot);
    if (existsSync(dir)) continue;
    mkdirSync(dir, { recursive: true });
    // cpuset's children start with no CPUs and no memory nodes.
    if (h === 'cpuset') for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, f), readFileSync(join('/sys/fs/cgroup/cpuset', f)));
  }
}

/** Cgroup roots of real nodes whose launcher is gone (a run killed outright), with their run directories. */
export function staleRuns(): { cgroupRoot: string; run: string }[] {
  const cpu = join('/sys/fs/cgroup', cgroupHierarchies()[0] ?? 'cpu');
  if (!existsSync(cpu)) return [];
  return readdirSync(cpu).filter((d) => d.startsWith(prefix) && !launcherAlive(runOf(d))).map((d) => ({ cgroupRoot: `/${d}`, run: runOf(d) }));
}

/** The file in a run directory that names its launcher's PID. */
export const launcherPidFile = (run: string): string => join(run, 'launcher.pid');

function launcherAlive(run: string): boolean {
  try {
    process.kill(Number(readFileSync(launcherPidFile(run), 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

const prefix = 'proa-node~';

/** The cgroup root named for a run directory (its path, '/' as '~'), so that a stale one can be told. */
export function cgroupRootFor(run: string): string {
  return `/${prefix}${run.replaceAll('/', '~')}`;
}

function runOf(dir: string): string {
  return dir.slice(prefix.length).replaceAll('~', '/');
}
