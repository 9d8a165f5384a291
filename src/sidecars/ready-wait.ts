// The wait before the command, over the watched Pod (watched.ts): every awaited sidecar
// ready (the kubelet's word or proa's own probe), or the reason not to run the command
// (a sidecar that failed for good, a spec proa cannot follow, the Pod's deletion, a
// signal, --ready-timeout), with widening reminders while it stands. With
// --wait-http/--wait-tcp the endpoints are an extra gate: the command starts when both agree.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { timerMs } from '../shared/limits.ts';
import { statusOf } from '../shared/pod.ts';
import { ownRestartCount, readiness, type Passed } from '../pod/status.ts';
import { restartAfter } from '../pod/restarts.ts';
import type { Signals } from '../command/supervise.ts';
import type { ApiClient } from '../kube/client.ts';
import type { Prober } from '../probes/prober.ts';
import type { EndpointGate } from '../probes/endpoints.ts';
import { blockingFields, reminderMessage, reminders, whatBlocks } from './reminders.ts';
import type { WatchedPod } from './watched.ts';
import type { Gate, Stop } from './view.ts';

/** What the waits over the watched Pod share (sidecars.ts makes it). */
export interface Watching {
  readonly config: Config;
  readonly log: Logger;
  readonly watched: WatchedPod;
  readonly client: ApiClient;
  readonly namespace: string;
  readonly gate: EndpointGate | undefined;
  /** proa's own readiness probes (--ready-by probe), while the readiness wait lasts. */
  readonly prober: Prober | undefined;
  readonly passed: Passed | undefined;
}

type Verdict = { kind: 'ready' } | Stop | 'timeout' | 'abandoned';

/**
 * Resolves after the event loop's next poll phase: data already received by the socket
 * has been read and its events applied by then. Two turns: the first immediate runs in
 * this turn's check phase, the second after the next poll.
 */
function afterPendingReads(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** Waits until every awaited sidecar is ready, or for the reason not to run the command; ends without a word when `abandon` aborts (modes.ts). */
export async function waitReady(w: Watching, signals: Signals, abandon: AbortSignal): Promise<Gate | { kind: 'abandoned' }> {
  const stopped = signals.whenStopped();
  const timeoutMs = w.config.readyTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    if (timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), timerMs(timeoutMs));
  });
  w.log.info('waiting for the sidecars to be ready');
  w.prober?.start();
  const remind = reminders((waitedMs) => reminder(w, waitedMs));
  const abandoned = new Promise<'abandoned'>((resolve) => {
    if (abandon.aborted) resolve('abandoned');
    abandon.addEventListener('abort', () => resolve('abandoned'), { once: true });
  });
  const verdict = await untilReady(w, [stopped.promise.then((signal) => ({ kind: 'signal', signal }) as const), timeout, abandoned]);
  w.gate?.stop();
  w.prober?.stop();
  remind.cancel();
  clearTimeout(timer);
  stopped.cancel();
  if (verdict === 'abandoned') return { kind: 'abandoned' };
  if (verdict === 'timeout') return await timedOut(w);
  const p = w.watched.plan;
  if (verdict.kind === 'ready' && p && !('error' in p)) {
    w.log.info(p.awaited.length === 0 ? 'no sidecars to wait for' : 'all sidecars are ready', { sidecars: p.awaited.map((s) => s.name), by: readyBy(w, p.awaited) });
  }
  if (verdict.kind === 'signal') w.log.warn('stopped before the command started', { signal: verdict.signal });
  return verdict;
}

async function untilReady(w: Watching, ended: Promise<Verdict>[]): Promise<Verdict> {
  for (;;) {
    const verdict = await w.watched.until<Verdict>(() => readyCheck(w), ended);
    if (verdict === 'timeout' || verdict === 'abandoned' || verdict.kind !== 'ready') return verdict;
    // A newer status may already sit in the socket (a sidecar flapping right after the
    // last one became ready): let one turn of the event loop read it before deciding.
    await afterPendingReads();
    const again = readyCheck(w);
    if (again !== undefined) return again;
    w.log.info('a newer status arrived before the command started: waiting again');
  }
}

async function timedOut(w: Watching): Promise<Gate> {
  w.log.error(`sidecars not ready after ${w.config.readyTimeoutMs}ms (--ready-timeout): not starting the command`);
  for (const b of blockers(w)) w.log.error(b.line, b.fields);
  await probeFailures(w);
  return { kind: 'ready-timeout', code: 5 };
}

/** The kubelet's last probe failure of each sidecar still not ready (its Unhealthy Events), or where to find them. */
async function probeFailures(w: Watching): Promise<void> {
  const pod = w.watched.pod;
  const p = w.watched.plan;
  const uid = pod?.metadata?.uid;
  if (!pod || !p || 'error' in p || !uid) return;
  const r = readiness(pod, p, w.passed);
  if (r.kind !== 'waiting') return;
  const { lastProbeFailures } = await import('../kube/unhealthy.ts');
  const found = await lastProbeFailures(w.client, w.namespace, uid, r.notReady);
  if (typeof found === 'string') {
    w.log.info(`the kubelet's probe failures are in kubectl describe pod ${pod.metadata?.name ?? ''}: ${found}`);
    return;
  }
  for (const name of r.notReady) {
    const f = found.get(name);
    if (f) w.log.error(`sidecar ${name}: the kubelet's last probe failure (${f.count} in all, last at ${f.at}): ${f.message}`, { container: name, count: f.count, at: f.at });
  }
}

function blockers(w: Watching): ReturnType<typeof whatBlocks> {
  const gate = w.gate && !w.gate.open ? w.gate.blockers().map((line) => ({ line, fields: {} })) : [];
  return [...whatBlocks(w.watched.pod, w.watched.plan, w.watched.problem(), w.passed, (name) => w.prober?.lastAnswer(name)), ...gate];
}

/** A reminder while stuck: its own message, so it is not read as a new event. */
function reminder(w: Watching, waitedMs: number): void {
  const blocking = blockers(w);
  w.log.warn(reminderMessage(waitedMs, blocking, w.watched.pod?.metadata?.name), {
    waitedS: Math.round(waitedMs / 1000), ...blockingFields(blocking),
  });
}

/** Who called each sidecar ready: the kubelet, or proa's probe ahead of it. */
function readyBy(w: Watching, awaited: readonly { name: string; native: boolean }[]): Record<string, string> {
  const pod = w.watched.pod;
  return Object.fromEntries(awaited.map((s) => {
    const status = pod && statusOf(pod, s.name, s.native);
    return [s.name, status?.ready === true ? 'kubelet' : "proa's probe"];
  }));
}

function readyCheck(w: Watching): { kind: 'ready' } | Stop | undefined {
  if (w.watched.deleted) {
    w.log.warn('the Pod is being deleted before the command started: not starting it');
    return { kind: 'deleted', code: 6 };
  }
  const pod = w.watched.pod;
  const p = w.watched.plan;
  if (!pod || !p) return undefined;
  if ('error' in p) {
    w.log.error(p.error);
    return { kind: 'bad-spec', code: 2 };
  }
  const r = readiness(pod, p, w.passed);
  if (r.kind === 'ready') return w.gate && !w.gate.open ? undefined : r;
  if (r.kind === 'waiting') return undefined;
  const t = r.terminated;
  const by = restartAfter(pod, r.name, t.exitCode).by;
  const fields: Record<string, unknown> = { container: r.name, exitCode: t.exitCode, reason: t.reason, restartBy: by };
  const restarts = ownRestartCount(pod, p);
  if (restarts > 0) {
    fields.hint = `proa's container "${p.own}" has restarted ${restarts} time(s): the previous attempt shut the sidecars down, ` +
      `and ${by} does not start a container that exited ${t.exitCode} again. ` +
      "Use restartPolicy: Never and let the Job's backoffLimit retry with a fresh Pod.";
  }
  w.log.error(`sidecar ${r.name} terminated and will not be restarted: not starting the command`, fields);
  return { kind: 'sidecar-failed', code: 4 };
}
