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
// - early stops (before the command): a peer that is not acting never sends the actions;
//   an acting one shuts the sidecars down at once, as a single proa does.
import { connect, createServer, type Server } from 'node:net';
import type { Logger } from './log.ts';
import type { Signals } from './supervise.ts';
import { finishedForGood, type Plan, type Pod } from './pod.ts';
import { sleep } from './limits.ts';

/** The liveness channel of a peer: abstract (no file), in the Pod's network namespace. */
function address(uid: string, container: string): string {
  return `\0proa/${uid}/${container}`;
}

/** This proa's liveness channel: open while it lives. */
export function listen(uid: string, own: string, log: Logger): Server {
  const server = createServer((s) => s.on('error', () => {}).end());
  server.on('error', (err: NodeJS.ErrnoException) => log.warn('cannot open the liveness channel for the other programs of this Pod', { error: err.code ?? err.message }));
  server.listen(address(uid, own));
  server.unref();
  return server;
}

/** Whether the proa in `container` answers on its channel now. */
export function alive(uid: string, container: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path: address(uid, container), timeout: 1000 });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

export interface PeerPod {
  pod: Pod | undefined;
  plan: Plan;
  deleted: boolean;
  until<T>(check: () => T | undefined, extra: Promise<T>[]): Promise<T>;
}

/** How often a peer that neither answers nor shows as terminated is asked again. */
const askAgainMs = 200;

/**
 * The acting peer now: the first in spec order that has not finished for good (this proa
 * is always alive). A peer before this one that does not answer is either still starting
 * (it opens its channel once it has seen the Pod) or just gone, which the Pod's status
 * shows a moment later: it is asked again until it answers or its status says it has
 * terminated for good. Taking silence for death would let two peers act and wait for each
 * other. While the Pod is being deleted, the kubelet stops every container: the first
 * candidate is taken as acting without waiting.
 */
export async function acting(view: PeerPod, order: readonly string[]): Promise<string> {
  const p = view.plan;
  for (const name of order) {
    if (name === p.own) return name;
    for (;;) {
      const pod = view.pod;
      if (pod && finishedForGood(pod, p, name)) break;
      if (view.deleted) return name;
      if (pod?.metadata?.uid && (await alive(pod.metadata.uid, name))) return name;
      await sleep(askAgainMs);
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
  const who = await acting(view, order);
  if (who !== p.own) {
    log.info(`proa in container ${who} acts for the other programs of this Pod and is alive: the sidecars are its to stop`, { acting: who, peers: p.peers });
    return 'leave';
  }
  if (early) return 'act';
  const others = (): string[] => p.peers.filter((n) => !view.pod || !finishedForGood(view.pod, p, n));
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
