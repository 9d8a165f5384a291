// The wait after the shutdown actions, over the watched Pod (watched.ts): every awaited
// sidecar exited, the bound passed, or the wait stopped. Exits are judged against the
// moment the shutdown began (pod/status.ts), each said once with what it means for the
// Pod (pod/verdicts.ts); the fastest sign of a stop (probes/exit-signs.ts) counts ahead
// of the kubelet's word. When the watch is cut (a mesh proxy that carried it has quit),
// the sidecars are judged by their local endpoints refusing connections, once every
// shutdown request was answered; the watch, if it comes back, stays the authority.
import { timerMs } from '../shared/limits.ts';
import { statusOf } from '../shared/pod.ts';
import type { Outcome } from '../shared/attempts.ts';
import { exits, type ExitBaseline } from '../pod/status.ts';
import type { Plan } from '../pod/plan.ts';
import { sidecarExit } from '../pod/verdicts.ts';
import { pollUntil, probeClosed, shutdownEndpoints, waitEndpoints } from '../probes/endpoints.ts';
import { wordGraceMs, type SignWatch } from '../probes/exit-signs.ts';
import type { Watching } from './ready-wait.ts';
import type { ExitWait } from './view.ts';

/** One exit wait: what the shutdown began with, and what it asked. */
export interface ExitWaitInput {
  baseline: ExitBaseline;
  deadline: number;
  stop: AbortSignal;
  actions: Promise<Outcome[]>;
  bound: string;
  commandCode: number | undefined;
  signs: SignWatch;
}

/** Watches until every awaited sidecar has exited, the deadline passes, or `stop` aborts. */
export async function waitForExit(w: Watching, x: ExitWaitInput): Promise<ExitWait> {
  const p = w.watched.exitPlan()!;
  let running = [...x.baseline.keys()];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timerMs(x.deadline - performance.now())); });
  const stopped = new Promise<'stopped'>((resolve) => {
    if (x.stop.aborted) resolve('stopped');
    x.stop.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  const planned = w.watched.plan;
  w.log.info('waiting for the sidecars to exit', {
    sidecars: running, timeoutMs: Math.ceil(x.deadline - performance.now()), bound: x.bound,
    // A spec proa could not follow: why these are the ones waited for.
    ...(planned && 'error' in planned ? { because: `the Pod spec could not be followed (${planned.error}), so every regular container but proa's own is awaited` } : {}),
  });
  const over = new AbortController();
  const cutOff = judgeWhileCut(w, x, over.signal);
  if (x.signs.size > 0) reportSigns(w, x, over.signal, () => running);
  const check = exitCheck(w, p, x, (r) => (running = r));
  const verdict = await w.watched.until<ExitWait['verdict']>(check, [timeout, stopped, cutOff]);
  over.abort();
  if (verdict === 'exited') await whileUnwaitedRun(w, p, x.baseline, x.actions, [timeout, stopped]);
  clearTimeout(timer);
  if (verdict === 'stopped') w.log.info('stopped waiting for the sidecars to exit', { running });
  if (verdict === 'deleted') w.log.info('the Pod is being deleted: the kubelet stops the sidecars; not waiting for them', { running });
  return { verdict, running };
}

/** The check run on every read of the watch: each exit said once, the count when it moves. */
function exitCheck(w: Watching, p: Plan, x: ExitWaitInput, setRunning: (running: string[]) => void): () => ExitWait['verdict'] | undefined {
  const total = x.baseline.size;
  let reported = -1;
  const warned = new Set<string>();
  return () => {
    if (w.watched.gone) {
      setRunning([]);
      return 'exited';
    }
    if (w.watched.deleted) return 'deleted';
    const r = exits(w.watched.pod!, p, x.baseline);
    // A sidecar its sign has judged stopped is running no longer, for proa.
    r.running = r.running.filter((n) => !x.signs.stopped(n));
    setRunning(r.running);
    for (const e of r.exited) {
      if (warned.has(e.name)) continue;
      warned.add(e.name);
      const said = sidecarExit(w.watched.pod!, p.own, e.name, e.exitCode, e.reason, x.commandCode);
      if (said) w.log[said.level](said.message, said.fields);
    }
    if (total - r.running.length !== reported) {
      reported = total - r.running.length;
      const bySign = [...x.baseline.keys()].filter((n) => x.signs.stopped(n) && !r.exited.some((e) => e.name === n));
      w.log.info(`${reported}/${total} sidecars exited`, { running: r.running, ...(bySign.length > 0 ? { stoppedBySign: bySign } : {}) });
    }
    return r.running.length === 0 ? 'exited' : undefined;
  };
}

/**
 * Judged by the endpoints only while the watch is cut: an event from a watch that
 * answers again ends that judging, and the watch decides again.
 */
function judgeWhileCut(w: Watching, x: ExitWaitInput, over: AbortSignal): Promise<'exited'> {
  let judging: AbortController | undefined;
  return new Promise<'exited'>((resolve) => {
    const look = (): void => {
      if (w.watched.cut && !judging) {
        const mine = (judging = new AbortController());
        void judgedByEndpoints(w, x.actions, x.deadline, AbortSignal.any([x.stop, over, mine.signal])).then((v) => {
          if (v === 'exited') resolve(v);
          else if (judging === mine) judging = undefined;
        });
      } else if (!w.watched.cut && judging) {
        judging.abort();
        judging = undefined;
      }
    };
    const unobserve = w.watched.observe(look);
    look();
    over.addEventListener('abort', unobserve, { once: true });
  });
}

/** The fastest sign of each sidecar's stop, ahead of the kubelet's word (probes/exit-signs.ts), said once. */
function reportSigns(w: Watching, x: ExitWaitInput, over: AbortSignal, running: () => string[]): void {
  void x.signs.run(AbortSignal.any([x.stop, over]), (name, s) => {
    if (!running().includes(name)) return;
    const how = [s.requests.length > 0 ? 'its endpoints refuse connections after its shutdown request was answered' : '', s.containerId ? 'none of its processes is left' : '']
      .filter(Boolean).join(', and ');
    w.log.info(`sidecar ${name} has stopped: ${how}` +
      (s.needsWord ? `; waiting up to ${wordGraceMs / 1000}s for the kubelet's word (${s.needsWord})` : ''), { container: name, endpoints: s.endpoints.map((e) => e.name) });
  }, () => w.watched.wake());
}

/**
 * The mesh's case: the watch is cut while the sidecars stop. Once every action was a
 * request and each was answered, the sidecars are judged by their local endpoints (the
 * shutdown URLs' and the wait endpoints'): all refusing connections means exited.
 */
async function judgedByEndpoints(w: Watching, actions: Promise<Outcome[]>, deadline: number, stop: AbortSignal): Promise<'exited' | undefined> {
  const outcomes = await actions;
  const byRequest = !w.config.killAll && w.config.kill.length === 0 && outcomes.length > 0 && outcomes.every((o) => o.done);
  const endpoints = [...shutdownEndpoints([...w.config.httpGet, ...w.config.httpPost, ...w.watched.auto]), ...waitEndpoints(w.config)];
  if (!byRequest || endpoints.length === 0 || stop.aborted) return undefined;
  w.log.info('the Kubernetes API cannot be reached while the sidecars stop (a mesh proxy that carried it has quit?): ' +
    'judging them by their endpoints until it answers again', { endpoints: endpoints.map((e) => e.name) });
  const closed = await pollUntil(endpoints, probeClosed, stop, () => {}, deadline);
  if (closed) w.log.info('every sidecar endpoint refuses connections: the sidecars have exited', { endpoints: endpoints.map((e) => e.name) });
  return closed ? 'exited' : undefined;
}

/**
 * Regular containers this wait was not for (--ignore'd ones) that have not terminated:
 * a shutdown request meant for one of them may not be answered yet (it listens late),
 * and ending the shutdown now would leave it, and the Pod, running. So once the awaited
 * sidecars have exited, the actions go on until every one is done, those containers
 * have stopped, or the bound passes.
 */
async function whileUnwaitedRun(w: Watching, p: Plan, baseline: ExitBaseline, actions: Promise<Outcome[]>, ends: Promise<unknown>[]): Promise<void> {
  const unwaited = (): string[] => {
    const pod = w.watched.pod;
    if (!pod || w.watched.gone || w.watched.deleted) return [];
    return (pod.spec?.containers ?? []).map((c) => c.name)
      .filter((n) => n !== p.own && !p.peers.includes(n) && !baseline.has(n) && statusOf(pod, n, false)?.state?.terminated === undefined);
  };
  const others = unwaited();
  if (others.length === 0) return;
  w.log.info(`the awaited sidecars have exited; shutdown requests not yet answered go on while ${others.join(', ')} runs (not awaited for exit)`, { running: others });
  await Promise.race([actions, ...ends, w.watched.until(() => (unwaited().length === 0 ? true : undefined), [])]);
}
