// Reminders while a wait stands: `kubectl logs --since=10m` of a Pod stuck for hours must
// still say why. The schedule widens (30 s, 1 min, 2 min, 5 min, then every 5 min) so
// that a short hiccup gets one line and a stuck Job a steady, quiet trickle. What they
// say (and what --ready-timeout says) is what blocks: the API's standing problem, or
// each unready sidecar with its state and restarts.
import { describe, staleView, type Passed } from '../pod/status.ts';
import { statusOf, type Pod } from '../shared/pod.ts';
import type { Plan, PlanError } from '../pod/plan.ts';

export interface Blocker {
  line: string;
  fields: Record<string, unknown>;
}

/** `passed` and `probed`: proa's own probes, when it runs them (probes/prober.ts): whether one passed, and its last answer. */
export function whatBlocks(pod: Pod | undefined, p: Plan | PlanError | undefined, problem: string | undefined,
  passed?: Passed, probed?: (name: string) => string | undefined): Blocker[] {
  if (!pod || !p || 'error' in p) {
    return [{ line: `the Pod was never seen${problem ? `: ${problem}` : ''}`, fields: { pod: pod?.metadata?.name } }];
  }
  const lines = p.awaited.flatMap((s): Blocker[] => {
    const status = statusOf(pod, s.name, s.native);
    if (status?.ready === true || passed?.(s.name, status)) return [];
    const state = describe(status);
    const answer = probed?.(s.name);
    // A native sidecar awaited by default may be one that turns ready only once the
    // program serves (Dapr's daprd, a proxy checking its upstream): name the way out.
    const hint = p.nativeByDefault.includes(s.name)
      ? ` (a native sidecar, awaited for its readinessProbe; if it turns ready only once your program serves, as Dapr's daprd does, pass --ignore ${s.name})` : '';
    return [{
      line: `sidecar ${s.name} is not ready: ${state}, ${status?.restartCount ?? 0} restart(s)${answer ? `; proa's probe last got ${answer}` : ''}${hint}`,
      fields: {
        container: s.name, state, reason: status?.state?.waiting?.reason ?? status?.state?.terminated?.reason,
        message: status?.state?.waiting?.message, restartCount: status?.restartCount ?? 0, probe: answer,
      },
    }];
  });
  const stale = staleView(pod, p);
  if (stale) lines.unshift({ line: `${stale}; waiting for a status of this run`, fields: {} });
  if (problem) lines.unshift({ line: `the Kubernetes API: ${problem}`, fields: {} });
  return lines;
}

export function reminderMessage(waitedMs: number, blocking: Blocker[], pod: string | undefined): string {
  const what = blocking.length > 0 ? blocking.map((b) => b.line).join('; ') : 'every awaited sidecar looks ready; waiting for the next status to confirm it';
  // The events hold the probes' failures: named only where a sidecar runs and is not ready.
  const probing = blocking.some((b) => typeof b.fields.state === 'string' && b.fields.state.startsWith('running'));
  return `still waiting for the sidecars after ${Math.round(waitedMs / 1000)}s (reminder): ${what}.` +
    (probing ? ` Probe failures are in the Pod's events: kubectl describe pod ${pod ?? '<pod>'}` : '');
}

/** What a reminder's line carries as fields: each blocker's that has any. */
export function blockingFields(blocking: Blocker[]): { blocking?: Record<string, unknown>[] } {
  const fields = blocking.map((b) => b.fields).filter((f) => Object.values(f).some((v) => v !== undefined));
  return fields.length > 0 ? { blocking: fields } : {};
}
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
