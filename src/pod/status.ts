// The status rules: what one observation of the Pod says about the sidecars (ready,
// failed, stale, exited since the shutdown began). Pure, as plan.ts: tested with plain
// objects (test/pod.test.ts).
import { maxDurationMs } from '../shared/limits.ts';
import { statusOf, type ContainerStatus, type Pod, type Terminated } from '../shared/pod.ts';
import type { Plan } from './plan.ts';
import { restartingAll, willRestart } from './restarts.ts';

export function isDeleting(pod: Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp);
}

/**
 * The default for --shutdown-timeout: the Pod's grace period, else Kubernetes' 30 s,
 * clamped to what a timer holds (`clamped`: the spec asked for more).
 */
export function gracePeriodMs(pod: Pod): { ms: number; clamped: boolean } {
  const s = pod.spec?.terminationGracePeriodSeconds;
  if (s === undefined || s < 0) return { ms: 30_000, clamped: false };
  return s * 1000 > maxDurationMs ? { ms: maxDurationMs, clamped: true } : { ms: s * 1000, clamped: false };
}

/** A container that has terminated and will not be restarted: its program is done for good. */
export function finishedForGood(pod: Pod, name: string): boolean {
  const t = statusOf(pod, name, false)?.state?.terminated;
  return t !== undefined && !willRestart(pod, name, t.exitCode);
}

/** A short, stable description of a container's state, logged whenever it changes. */
export function describe(status: ContainerStatus | undefined): string {
  if (!status) return 'no status yet';
  const t = status.state?.terminated;
  if (t) return `terminated (exit code ${t.exitCode}${t.reason ? `, ${t.reason}` : ''})`;
  const w = status.state?.waiting;
  if (w) return `waiting (${w.reason ?? 'no reason given'})`;
  if (status.state?.running) {
    if (status.ready === true) return 'ready';
    return status.started === false ? 'running, not started' : 'running, not ready';
  }
  return status.ready === true ? 'ready' : 'unknown state';
}

export type Readiness =
  | { kind: 'ready' }
  | { kind: 'waiting'; notReady: string[] }
  | { kind: 'failed'; name: string; terminated: Terminated };

/**
 * Why this view of the Pod is older than this proa, or undefined when it is not. proa
 * runs, so a status that shows its own container terminated, or removed for a restart of
 * every container, or the AllContainersRestarting condition, comes from before this run:
 * the sidecars it calls ready may be the ones the restart killed. The restarted proa waits
 * for a view of its own run, as a fresh start.
 */
export function staleView(pod: Pod, p: Plan): string | undefined {
  if (restartingAll(pod)) return 'the kubelet is restarting every container of the Pod (AllContainersRestarting)';
  const own = statusOf(pod, p.own, false)?.state;
  if (own?.terminated) return `the Pod's status still shows proa's container ${p.own} terminated (exit code ${own.terminated.exitCode}), from before this run`;
  if (own?.waiting?.reason === 'RestartingAllContainers') return `the Pod's status still shows proa's container ${p.own} removed for the restart of every container`;
  return undefined;
}

/** Whether proa's own probe has passed for this run of a container (probes/prober.ts). */
export type Passed = (name: string, status: ContainerStatus | undefined) => boolean;

/**
 * Ready when every awaited container is ready in this one observation of the Pod: the
 * kubelet says so, or proa's own probe passed in the run the status shows (`passed`).
 */
export function readiness(pod: Pod, p: Plan, passed?: Passed): Readiness {
  if (staleView(pod, p)) return { kind: 'waiting', notReady: p.awaited.map((s) => s.name) };
  const notReady: string[] = [];
  for (const s of p.awaited) {
    const status = statusOf(pod, s.name, s.native);
    if (status?.ready === true || passed?.(s.name, status)) continue;
    const t = status?.state?.terminated;
    if (t && !s.native && !willRestart(pod, s.name, t.exitCode)) return { kind: 'failed', name: s.name, terminated: t };
    notReady.push(s.name);
  }
  return notReady.length === 0 ? { kind: 'ready' } : { kind: 'waiting', notReady };
}

export function ownRestartCount(pod: Pod, p: Plan): number {
  return statusOf(pod, p.own, false)?.restartCount ?? 0;
}

/** What each sidecar looked like when shutdown began, to recognise an exit hidden by a restart. */
export type ExitBaseline = Map<string, { restartCount: number; last: string | undefined }>;

function lastTermination(status: ContainerStatus | undefined): string | undefined {
  const t = status?.lastState?.terminated;
  return t ? `${t.containerID ?? ''}/${t.finishedAt ?? ''}/${t.exitCode}` : undefined;
}

/** Sidecars awaited for exit: regular ones only (the kubelet stops native ones after proa), never a peer (it ends by itself). */
export function exitAwaited(p: Plan): string[] {
  return p.awaited.filter((s) => !s.native && !p.peers.includes(s.name)).map((s) => s.name);
}

export function exitBaseline(pod: Pod, p: Plan): ExitBaseline {
  const base: ExitBaseline = new Map();
  for (const name of exitAwaited(p)) {
    const status = statusOf(pod, name, false);
    base.set(name, { restartCount: status?.restartCount ?? 0, last: lastTermination(status) });
  }
  return base;
}

export interface Exit {
  name: string;
  exitCode: number | undefined;
  reason: string | undefined;
}

/**
 * Which sidecars have exited since shutdown began: terminated now, or restarted since
 * (restartCount or lastState moved), as happens under OnFailure/Always.
 */
export function exits(pod: Pod, p: Plan, baseline: ExitBaseline): { exited: Exit[]; running: string[] } {
  const exited: Exit[] = [];
  const running: string[] = [];
  for (const name of exitAwaited(p)) {
    const status = statusOf(pod, name, false);
    const t = status?.state?.terminated;
    const base = baseline.get(name);
    if (t) {
      exited.push({ name, exitCode: t.exitCode, reason: t.reason });
    } else if (status && base && ((status.restartCount ?? 0) > base.restartCount || lastTermination(status) !== base.last)) {
      const last = status.lastState?.terminated;
      exited.push({ name, exitCode: last?.exitCode, reason: last?.reason });
    } else {
      running.push(name);
    }
  }
  return { exited, running };
}
