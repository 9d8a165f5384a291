// Reminders while a wait stands: `kubectl logs --since=10m` of a Pod stuck for hours must
// still say why. The schedule widens (30 s, 1 min, 2 min, 5 min, then every 5 min) so
// that a short hiccup gets one line and a stuck Job a steady, quiet trickle.
const scheduleMs = [30_000, 60_000, 120_000, 300_000];
const everyMs = 300_000;

/** Calls `remind(waitedMs)` on the schedule until cancelled. */
export function reminders(remind: (waitedMs: number) => void): { cancel: () => void } {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = (n: number): void => {
    const at = scheduleMs[n] ?? scheduleMs[scheduleMs.length - 1]! + everyMs * (n - scheduleMs.length + 1);
    timer = setTimeout(() => {
      remind(performance.now() - started);
      arm(n + 1);
    }, Math.max(0, started + at - performance.now()));
    timer.unref();
  };
  arm(0);
  return { cancel: () => clearTimeout(timer) };
}
