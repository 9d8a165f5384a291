// Several programs in one Pod, each wrapped by proa, sharing sidecars: the sidecars are
// asked to stop once, after the last program has finished, whichever order they end in.
//
// The protocol (no race, no configuration beyond the spec):
// - the acting peer is the first peer in spec order (proa's own container included)
//   that has not terminated for good (terminated, and not to be restarted by the restart
//   policy), as its answer on its liveness channel confirms;
// - the acting peer sends its own actions once every other peer has terminated for good,
//   or at once when the Pod is being deleted or a stopping signal comes;
// - a peer whose program has finished and that is not acting leaves without sending
//   anything, once it has confirmed that the acting peer is alive: the Pod status lags by
//   about a second, so the confirmation goes over the Pod's network namespace, which its
//   containers share: an abstract Unix socket named from the Pod's UID and the
//   container's name, that answers at once. If the acting peer is gone, the next one
//   takes over. If the acting peer is killed after every other peer has left, that is
//   the same loss as a single proa killed.
// - the channel answers one line, `proa peer <uid> <container>`, and hangs up at once
//   (never waiting for the asker to hang up: held-open connections would exhaust proa),
//   at most maxConnections at a time; any other answer is silence.
// - the channel's name can be seen in /proc/net/unix, and any process of the Pod may
//   listen on it first. A peer that finds its own name taken says so and raises the
//   alarm (one more abstract name, held while it lives); every peer looks for the alarm
//   once a second from its start, and once it has seen it, trusts no channel's answer for
//   the rest of its run and judges the others by the Pod's status alone (running =
//   alive). What a process of the Pod can still do, the README says: answer for a peer
//   that has not started yet, or that died, until the status shows it terminated.
// - waiting for the acting peer races the stopping signals, and before the command
//   (early stops) lasts at most earlyBoundMs: a peer not yet started (its image still
//   pulling), or one that never answers (run with --no-wait or PROA_DISABLED), is then
//   taken as acting, and this proa leaves the sidecars to it.
// - early stops (before the command): a peer that is not acting never sends the actions;
//   an acting one shuts the sidecars down at once, as a single proa does.
import { connect, createServer, type Server } from 'node:net';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../command/supervise.ts';
import { finishedForGood } from '../pod/status.ts';
import { statusOf, type Pod } from '../shared/pod.ts';
import type { Plan } from '../pod/plan.ts';
import { sleep } from '../shared/limits.ts';

/** The liveness channel of a peer: abstract (no file), in the Pod's network namespace. */
function address(uid: string, container: string): string {
  return `\0proa/${uid}/${container}`;
}

/** Raised by a peer whose channel's name another process holds: no channel is trusted. (A `.` no container name has.) */
function alarm(uid: string): string {
  return `\0proa/${uid}/.distrust`;
}

const greeting = (uid: string, container: string): string => `proa peer ${uid} ${container}\n`;
const maxConnections = 32;
const answerTimeoutMs = 1000;

/** Seen the alarm: no channel is trusted for the rest of this run. */
let distrusted = false;

function distrust(log: Logger): void {
  if (distrusted) return;
  distrusted = true;
  log.warn("a peer found its liveness channel's name held by another process of this Pod: " +
    "the programs of this Pod judge each other by the Pod's status alone for the rest of this run");
}

/** How often a peer looks for the alarm from its start. */
const alarmEveryMs = 1000;

/** This proa's liveness channel, open while it lives, and the look-out for the alarm. */
export function listen(uid: string, own: string, log: Logger): { close(): void } {
  const server = channel(uid, own, log);
  const lookout = setInterval(() => {
    if (distrusted) return clearInterval(lookout);
    void accepts(alarm(uid)).then((raised) => raised && distrust(log));
  }, alarmEveryMs);
  lookout.unref();
  return { close: () => { clearInterval(lookout); server.close(); } };
}

function channel(uid: string, own: string, log: Logger): Server {
  const server = createServer((s) => {
    s.on('error', () => {});
    s.end(greeting(uid, own), () => s.destroy());
  });
  server.maxConnections = maxConnections;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') {
      log.warn('cannot open the liveness channel for the other programs of this Pod', { error: err.code ?? err.message });
      return;
    }
    log.warn(`another process of this Pod holds the liveness channel's name of container ${own}: ` +
      "from now on the programs of this Pod judge each other by the Pod's status alone", { channel: address(uid, own).slice(1) });
    distrusted = true;
    const raised = createServer((s) => s.on('error', () => {}).destroy());
    raised.maxConnections = maxConnections;
    // Taken already: the alarm is raised either way.
    raised.on('error', () => {});
    raised.listen(alarm(uid));
    raised.unref();
  });
  server.listen(address(uid, own));
  server.unref();
  return server;
}

/** Whether anything listens at `path`. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path, timeout: answerTimeoutMs });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

/** What the proa in `container` says on its channel now: its greeting, or nothing. */
function answers(uid: string, container: string): Promise<boolean> {
  const expected = greeting(uid, container);
  return new Promise((resolve) => {
    const s = connect({ path: address(uid, container), timeout: answerTimeoutMs });
    let got = '';
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setEncoding('latin1');
    s.on('data', (chunk: string) => {
      got += chunk;
      if (got.length >= expected.length) done(got === expected);
    });
    s.once('end', () => done(false));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

/** Whether the proa in `container` is alive by its channel, or 'distrusted' while the alarm is raised. */
export async function alive(uid: string, container: string, log: Logger): Promise<boolean | 'distrusted'> {
  if (distrusted) return 'distrusted';
  const [raised, answered] = await Promise.all([accepts(alarm(uid)), answers(uid, container)]);
  if (raised) distrust(log);
  return distrusted ? 'distrusted' : answered;
}

export interface PeerPod {
  pod: Pod | undefined;
  plan: Plan;
  deleted: boolean;
  until<T>(check: () => T | undefined, extra: Promise<T>[]): Promise<T>;
}

/** How often a peer that neither answers nor shows as terminated is asked again. */
const askAgainMs = 200;
/** Before the command, how long an earlier peer may stay unconfirmed before it is taken as acting. */
export const earlyBoundMs = 3000;

/**
 * The acting peer now: the first in spec order that has not finished for good (this proa
 * is always alive). A peer before this one that does not answer is either still starting
 * (it opens its channel once it has seen the Pod) or just gone, which the Pod's status
 * shows a moment later: it is asked again until it answers or its status says it has
 * terminated for good. Taking silence for death would let two peers act and wait for each
 * other. While the Pod is being deleted, the kubelet stops every container: the first
 * candidate is taken as acting without waiting.
 */
export async function acting(view: PeerPod, order: readonly string[], stop: AbortSignal, log: Logger, boundMs?: number): Promise<string> {
  const p = view.plan;
  const until = boundMs === undefined ? Infinity : performance.now() + boundMs;
  for (const name of order) {
    if (name === p.own) return name;
    for (;;) {
      const pod = view.pod;
      if (pod && finishedForGood(pod, name)) break;
      if (view.deleted) return name;
      const answer = pod?.metadata?.uid ? await alive(pod.metadata.uid, name, log) : false;
      if (answer === true) return name;
      if (answer === 'distrusted' && pod && statusOf(pod, name, false)?.state?.running) return name;
      if (stop.aborted || performance.now() >= until) {
        log.info(`proa in container ${name} has not confirmed that it is alive ` +
          `(${stop.aborted ? 'a stopping signal came' : `within ${(boundMs ?? 0) / 1000}s, before the command`}): ` +
          'taken as acting for the other programs of this Pod', { acting: name });
        return name;
      }
      await sleep(Math.min(askAgainMs, until - performance.now()), stop);
    }
  }
  return p.own;
}

/**
 * Before the shutdown: 'act' when this proa sends the actions for all (after waiting for
 * the other peers' programs, unless `early`), 'leave' when another peer does.
 */
export async function settle(view: PeerPod, order: readonly string[], signals: Signals, log: Logger, early: boolean): Promise<'act' | 'leave'> {
  const p = view.plan;
  // Before the command, a signal is already the reason to stop: the next one ends the wait.
  const signal = early ? signals.next() : signals.whenStopped();
  const stop = new AbortController();
  void signal.promise.then(() => stop.abort());
  const who = await acting(view, order, stop.signal, log, early ? earlyBoundMs : undefined).finally(() => signal.cancel());
  if (who !== p.own) {
    log.info(`proa in container ${who} acts for the other programs of this Pod and is alive: the sidecars are its to stop`, { acting: who, peers: p.peers });
    return 'leave';
  }
  if (early) return 'act';
  const others = (): string[] => p.peers.filter((n) => !view.pod || !finishedForGood(view.pod, n));
  if (others().length === 0 || view.deleted) return 'act';
  log.info('this proa acts for all: waiting for the other programs of this Pod to finish before shutting the sidecars down', { waitingFor: others() });
  const stopped = signals.whenStopped();
  const why = await view.until<'finished' | 'deleted' | NodeJS.Signals>(
    () => (view.deleted ? 'deleted' : others().length === 0 ? 'finished' : undefined), [stopped.promise]);
  stopped.cancel();
  log.info(why === 'finished' ? 'every other program of this Pod has finished: shutting the sidecars down for all'
    : why === 'deleted' ? 'the Pod is being deleted: shutting the sidecars down now' : 'a stopping signal: shutting the sidecars down now', { reason: why });
  return 'act';
}
