// shutdown/: stopping the sidecars: the phase (this module), HTTP requests (requests.ts),
// signals by process name (kill.ts), and what may still be sent after bad input (salvage.ts).
//
// The shutdown phase: the promise that the Job ends. The actions (requests.ts, kill.ts)
// are retried and the sidecars' exit is awaited together, under one bound:
//
// - bound: --shutdown-timeout, else the Pod's terminationGracePeriodSeconds, else 30 s.
//   No new attempt starts after it; a request already in flight may add at most
//   --shutdown-http-timeout.
// - with sidecars to watch (regular ones in the plan, or on a bad spec every regular
//   container but proa's own): actions retry until every one of them has exited.
// - with none (all ignored, only native sidecars, no API access, the Pod never seen):
//   each action retries until it is answered.
// - one round, no retries and no waiting: the Pod is being deleted (the kubelet stops
//   everything), or --shutdown-timeout 0.
// - a stopping signal ends the phase at once (the kubelet is stopping the Pod). When
//   a signal was the reason to stop, only a further one does.
// - when the bound passes with a sidecar still running, the last lines say which one,
//   that the Pod will not complete on its own, and what would fix it.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import type { Attempts, Outcome } from '../shared/attempts.ts';
import type { Signals } from '../command/supervise.ts';
import type { ExitWait, Planned, SidecarView } from '../sidecars/view.ts';
import { portOf, requestKey } from '../shared/urls.ts';

export interface ShutdownInput {
  config: Config;
  log: Logger;
  signals: Signals;
  /** undefined without API access (--no-wait, not in the cluster), and when recovering from an internal error. */
  sidecars: SidecarView | undefined;
  /** What the Pod's spec added to the shutdown, fixed before the command started. */
  planned?: Planned | undefined;
  childPid?: number | undefined;
  /** The program's exit code; undefined when it never ran. */
  commandCode?: number | undefined;
  /** 'one-round': the Pod is being deleted. 'after-signal': a signal was why proa stopped. */
  mode?: 'full' | 'one-round' | 'after-signal';
}

const fix = 'Give it a shutdown action that makes it exit: an HTTP endpoint that is enabled in the sidecar ' +
  '(--shutdown-http-get/--shutdown-http-post), --kill NAME with shareProcessNamespace: true, or a sidecar flag that makes it ' +
  'exit when done; and set activeDeadlineSeconds on the Job as a safety net';

/**
 * What the Pod's view offers, read so that a fault in it (a bug, a Pod proa could not
 * make sense of) costs the view and never the actions: undefined, and said.
 */
function guarded<T>(log: Logger, what: string, read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    log.error(`internal error reading the Pod for the shutdown (${what}); going on without it`, { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** Runs the shutdown (see the top of this file); what each action achieved. */
export async function shutDown(input: ShutdownInput): Promise<Outcome[]> {
  const { config, log, signals, sidecars } = input;
  const planned = input.planned ?? guarded(log, 'planned actions', () => sidecars?.planned());
  // Nothing to send and no one to wait for (--no-wait without actions): done.
  if (!sidecars && !hasActions(config) && !planned?.auto.length) {
    log.debug('no shutdown actions configured');
    return [];
  }
  const mode = input.mode ?? 'full';
  const boundMs = config.shutdownTimeoutMs ?? planned?.graceMs ?? 30_000;
  const bound = config.shutdownTimeoutMs !== undefined ? '--shutdown-timeout' : planned?.graceMs !== undefined ? "the Pod's terminationGracePeriodSeconds" : 'the default, 30s';
  const retry = mode !== 'one-round' && boundMs > 0;
  const deadline = performance.now() + boundMs;

  const interrupt = new AbortController();
  const signal = mode === 'after-signal' ? signals.next() : signals.whenStopped();
  void signal.promise.then(() => interrupt.abort());
  const gone = new AbortController();
  const stop = AbortSignal.any([interrupt.signal, gone.signal]);

  // The actions go out first, the wait is set up after: the wait counts every status
  // since `baseline`, and each step before the first request is a delay on every Job.
  const waiter = retry ? guarded(log, 'exit baseline', () => sidecars?.beginShutdown(input.commandCode)) : undefined;
  const a: Attempts = { retry, deadline, stop, interrupt: interrupt.signal };
  const answered = new Set<string>();
  const acting = runActions(config, planned, log, input.childPid, a, !waiter?.byStatus, answered);
  // Heard by the story (report/story.ts): the ShutdownSent Event goes out while the sidecars stop.
  void acting.then((o) => log.debug('every shutdown action has its outcome', { actions: o.length }), () => {});
  const exitWait: Promise<ExitWait> | undefined = waiter?.wait(deadline, interrupt.signal, acting, bound, answered).catch((err: unknown) => {
    log.error('internal error waiting for the sidecars to exit; the actions go on until answered', { error: err instanceof Error ? err.message : String(err) });
    return { verdict: 'failed', running: [] };
  });
  // However the wait ends, the actions stop retrying with it: a timeout too (no new
  // attempt after the bound), so that --kill's search never outlives the shutdown.
  void exitWait?.then((w) => w.verdict !== 'failed' && gone.abort());
  const outcomes = await acting;
  const waited = await exitWait;
  signal.cancel();
  if (boundMs === 0 && mode !== 'one-round') log.info('not waiting for the sidecars to exit (--shutdown-timeout 0)');
  if (interrupt.signal.aborted || !retry) return outcomes;

  const survivors = [...(waited?.running ?? []).map((name) => ({ who: `sidecar ${name}`, container: name })),
    ...(waited?.answering ?? []).map((a) => ({ who: `the sidecar at endpoint ${a.endpoint} (${a.why})`, endpoint: a.endpoint }))];
  if (waited?.verdict === 'timeout' && survivors.length > 0) {
    const failed = outcomes.filter((o) => !o.done);
    for (const { who, ...where } of survivors) {
      log.error(`${who} is still running after ${boundMs}ms (--shutdown-timeout): the Pod will not complete on its own. ${fix}`, {
        ...where,
        actions: outcomes.length === 0 ? 'none configured' : outcomes.map((o) => o.done ? `${o.action}: done` : `${o.action}: ${o.error}`),
        ...(failed.length === 0 && outcomes.length > 0 ? { note: 'every shutdown action succeeded, yet the sidecar did not exit' } : {}),
      });
    }
    return outcomes;
  }
  if (!exitWait) {
    for (const o of outcomes.filter((x) => !x.done)) {
      log.error(`shutdown action ${o.action} did not succeed within ${boundMs}ms (--shutdown-timeout; last: ${o.error}): the sidecar it stops may ` +
        `still be running, and then the Pod will not complete on its own. ${fix}`, { action: o.action, error: o.error });
    }
  }
  return outcomes;
}

/**
 * The modules of the actions configured, loading: https, net and dns cost start-up time
 * that a run without requests (PROA_DISABLED, --no-wait without -g/-p) never needs. Called
 * once the command runs, so that they are ready when it exits.
 */
export function prepareShutdown(config: Config, auto: readonly URL[] = []): Promise<unknown> {
  const requests = needsRequests(config, auto) ? import('./requests.ts').then((m) => (loaded.requests = m)) : undefined;
  const kill = needsKill(config) ? import('./kill.ts').then((m) => (loaded.kill = m)) : undefined;
  return Promise.all([requests, kill]);
}

const loaded: { requests?: typeof import('./requests.ts'); kill?: typeof import('./kill.ts') } = {};
const needsRequests = (config: Config, auto: readonly URL[]): boolean => config.httpGet.length + config.httpPost.length + auto.length > 0 || config.shutdownAuto;
const needsKill = (config: Config): boolean => config.killAll || config.kill.length > 0;

function hasActions(config: Config): boolean {
  return needsRequests(config, []) || needsKill(config);
}

/** Every action at once; synchronous up to the first request when the modules are loaded (prepareShutdown). */
function runActions(config: Config, planned: Planned | undefined, log: Logger, childPid: number | undefined, a: Attempts, untilDone: boolean,
  answered: Set<string>): Promise<Outcome[]> {
  const { requests, kill } = loaded;
  const auto = planned?.auto ?? [];
  const hostPid = planned?.hostPid === true;
  if ((needsRequests(config, auto) && !requests) || (needsKill(config) && !kill)) {
    return prepareShutdown(config, auto).then(() => runActions(config, planned, log, childPid, a, untilDone, answered));
  }
  const hints = (u: URL): { fix?: string; podPorts: readonly number[] } => ({ ...(planned?.fixes.has(portOf(u)) ? { fix: planned.fixes.get(portOf(u))! } : {}), podPorts: planned?.ports ?? [] });
  const send = (method: 'GET' | 'POST', u: URL): Promise<Outcome> => requests!.shutdownRequest(method, u, config.httpTimeoutMs, a, log, hints(u)).then((o) => {
    if (o.done) answered.add(requestKey(u));
    return o;
  });
  const all: Promise<Outcome | Outcome[]>[] = requests ? [...config.httpGet.map((u) => send('GET', u)), ...[...config.httpPost, ...auto].map((u) => send('POST', u))] : [];
  if (kill && needsKill(config) && hostPid) {
    log.error(`${config.killAll ? '--kill-all' : '--kill'} not run: the Pod has hostPID: true, and processes all over the node would be signalled; ` +
      kill.hostPidFix);
  } else if (kill && config.killAll) all.push(Promise.resolve(kill.killAll(config.killSignal, childPid, log)));
  else if (kill && config.kill.length > 0) all.push(kill.killByName(config.kill, config.killSignal, childPid, a, untilDone, log));
  if (all.length === 0) log.debug('no shutdown actions to run');
  return Promise.all(all).then((r) => r.flat());
}
