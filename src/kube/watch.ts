// The watch on proa's own Pod, as an explicit state machine (after kube-rs' watcher).
//
//   list ──200──▶ streaming ──clean end after ≥1 s──▶ resume(rv) ──200──▶ streaming …
//     ▲               │ 410 (ERROR event or HTTP)          │
//     └───────────────┤                                    │
//                     └─any other error──▶ backoff ──▶ (resume(rv) | list)
//
// - list: no resourceVersion. The server starts from the Pod as it is now and opens
//   with a synthetic ADDED, so one request is both the initial get and the watch.
// - resume(rv): changes after rv, the last version seen (bookmarks included).
// - streaming: reading events. The stream ends normally after timeoutSeconds; one
//   that ends within a second is an error (a server or proxy that refuses to hold it).
// - backoff: after an error, wait; then resume from the last version (list if none).
//
// Defaults, and why:
// - backoff: full jitter over an exponential window from 200 ms, capped at 16 s, with
//   Retry-After as a floor. Full jitter spreads thousands of Pods that reconnect
//   together after an API-server restart; the cap keeps recovery prompt. The window
//   resets once a stream has stayed healthy for a second.
// - a dead connection is noticed within timeoutSeconds + 5 s of the stream opening:
//   the server ends every watch at timeoutSeconds, so a stream still open 5 s past
//   that is half-open (a node's conntrack entry dropped, a load balancer failed over,
//   the peer gone without a FIN) and is abandoned. With the default --watch-timeout of
//   50 s that bounds the blind time to 55 s (5 s inside the 60 s goal, for the new
//   watch's own connect) on any transport, HTTP/1.1 included, at
//   the cost of one request per 50 s (72 per Pod per hour, each a cheap resume from the
//   watch cache). Considered and not taken: TCP keep-alive (Node sets only the idle
//   time, not the probe interval or count, so the kernel's 75 s x 9 probes rule) and
//   silence timers (a quiet, healthy watch gets a bookmark only about once a minute,
//   and servers that send none would be dropped for nothing). HTTP/2 PING would allow
//   longer watches where the server offers h2; it is not done here. The 5 s margin
//   covers the end's trip back through a slow proxy and the server's timer slack: the
//   server's clock starts before it sends the headers, and ours after we receive them.
// - the Pod not found, the API unreachable, trouble for its owner: watch-health.ts.
// - a line (one event) longer than the Pod document cap (shared/limits.ts) is a broken stream:
//   retried with back-off like any other.
//
// What a line means is kube/watch-lines.ts' to say (its Pods through kube/decode.ts). Events
// proa cannot use (an unknown type, an object that is not a Pod) are logged once and
// skipped; a line that is not JSON means the stream itself is broken, and it is retried.
import type { IncomingMessage } from 'node:http';
import type { Sourced } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import type { Pod } from '../shared/pod.ts';
import { maxPodDocumentBytes, sleep, timerMs } from '../shared/limits.ts';
import { ApiError, type ApiClient } from './client.ts';
import { parseEvent } from './watch-lines.ts';
import { Lines } from './lines.ts';
import { WatchHealth, type Trouble } from './watch-health.ts';

export type { Trouble } from './watch-health.ts';

/**
 * 'caught-up' follows the events of each chunk read: decisions wait for it, so that
 * a chunk holding several events (a resume's backlog) is judged by its last one.
 */
export type WatchEvent = { type: 'pod'; pod: Pod } | { type: 'deleted'; pod: Pod } | { type: 'caught-up' };

export interface WatchTarget {
  pod: Sourced<string>;
  namespace: Sourced<string>;
  timeoutSeconds: number;
}

type Start = { kind: 'list' } | { kind: 'resume'; rv: string };
type State = Start | { kind: 'backoff'; ms: number; then: Start } | { kind: 'stopped' };
/** The last resourceVersion seen on a stream (events and bookmarks): where a resume starts. */
interface Cursor { rv: string | undefined }

const backoffBaseMs = 200;
const backoffCapMs = 16_000;
const healthyAfterMs = 1000;
const deadMarginMs = 5_000;

class StreamProblem extends Error {
  override name = 'StreamProblem';
}

export class PodWatch {
  readonly #client: ApiClient;
  readonly #target: WatchTarget;
  readonly #log: Logger;
  readonly #onEvent: (event: WatchEvent) => void;
  readonly #stop = new AbortController();
  readonly #health: WatchHealth;
  #attempt = 0;
  #done: Promise<void> | undefined;

  constructor(client: ApiClient, target: WatchTarget, log: Logger, onEvent: (event: WatchEvent) => void, onTrouble: (t: Trouble) => void = () => {}) {
    this.#client = client;
    this.#target = target;
    this.#log = log;
    this.#onEvent = onEvent;
    this.#health = new WatchHealth(log, target, () => client.serviceAccount(), onTrouble, this.#stop.signal);
  }

  start(): void {
    this.#health.armUnreachable();
    this.#done ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#health.stop();
    await this.#done;
  }

  /** The standing problem, for reminders: the API failing, or the Pod not found. */
  problem(): string | undefined {
    return this.#health.problem();
  }

  async #run(): Promise<void> {
    let state: State = { kind: 'list' };
    while (state.kind !== 'stopped') {
      if (this.#stop.signal.aborted) break;
      if (state.kind === 'backoff') {
        await sleep(state.ms, this.#stop.signal);
        state = state.then;
        continue;
      }
      state = await this.#watch(state.kind === 'resume' ? state.rv : undefined);
    }
  }

  #path(rv: string | undefined): string {
    const q = new URLSearchParams({
      watch: 'true',
      fieldSelector: `metadata.name=${this.#target.pod.value}`,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.#target.timeoutSeconds),
    });
    if (rv !== undefined) q.set('resourceVersion', rv);
    return `/api/v1/namespaces/${encodeURIComponent(this.#target.namespace.value)}/pods?${q}`;
  }

  /** One watch request, from open to end; returns the next state. */
  async #watch(rv: string | undefined): Promise<State> {
    const stream = new AbortController();
    const abortStream = (): void => stream.abort();
    this.#stop.signal.addEventListener('abort', abortStream);
    const cursor: Cursor = { rv };
    const next = (): Start => (cursor.rv === undefined ? { kind: 'list' } : { kind: 'resume', rv: cursor.rv });
    // From before the request: the server's timeoutSeconds clock starts after ours, so
    // a stream it ends on schedule never looks shorter than it was asked to be.
    const opened = performance.now();
    try {
      const res = await this.#client.stream(this.#path(rv), stream.signal);
      this.#health.reached();
      this.#log.debug('watch open', { resourceVersion: rv ?? '(none: list)' });
      if (rv === undefined) this.#health.armNotFound();
      return (await this.#read(res, opened, cursor)) ?? next();
    } catch (err) {
      if (this.#stop.signal.aborted) return { kind: 'stopped' };
      if (err instanceof ApiError && err.status === 410) {
        this.#log.info('watch resourceVersion expired (HTTP 410); starting over from the current state', { resourceVersion: cursor.rv });
        return { kind: 'list' };
      }
      this.#health.report(err);
      this.#health.troubleOf(err);
      return { kind: 'backoff', ms: this.#backoff(err), then: next() };
    } finally {
      this.#stop.signal.removeEventListener('abort', abortStream);
    }
  }

  /** One open stream, read to its end: the next state when a line decides it, undefined when the server ended it on schedule. */
  async #read(res: IncomingMessage, opened: number, cursor: Cursor): Promise<State | undefined> {
    const healthy = setTimeout(() => this.#healthy(), healthyAfterMs);
    const deadMs = this.#target.timeoutSeconds * 1000 + deadMarginMs;
    const dead = setTimeout(() => res.destroy(new StreamProblem(
      `watch not ended by the server ${deadMs / 1000}s after it opened (timeoutSeconds ${this.#target.timeoutSeconds}); connection presumed dead`)), timerMs(deadMs));
    try {
      const lines = new Lines(maxPodDocumentBytes);
      for await (const chunk of res as AsyncIterable<Buffer>) {
        for (const line of lines.push(chunk)) {
          const verdict = this.#line(line, cursor);
          if (verdict) {
            res.destroy();
            return verdict;
          }
        }
        // A partial line left over means the rest of an event is on its way: decide after it.
        if (!lines.partial) this.#onEvent({ type: 'caught-up' });
      }
      const verdict = this.#line(lines.end(), cursor);
      if (verdict) return verdict;
      const lived = performance.now() - opened;
      if (lived < healthyAfterMs) throw new StreamProblem(`watch stream ended after ${Math.round(lived)}ms`);
      this.#healthy();
      this.#log.debug('watch ended by the server; resuming', { resourceVersion: cursor.rv });
      return undefined;
    } finally {
      clearTimeout(dead);
      clearTimeout(healthy);
      this.#onEvent({ type: 'caught-up' });
    }
  }

  /** What one line does: an event passed on, a version remembered, or the next state. */
  #line(line: string, cursor: Cursor): State | undefined {
    const e = parseEvent(line);
    switch (e.kind) {
      case 'pod':
      case 'deleted':
        if (e.rv !== undefined) cursor.rv = e.rv;
        this.#health.seen();
        this.#health.resolved();
        this.#health.fieldProblems(e.problems);
        this.#onEvent({ type: e.kind, pod: e.pod });
        return undefined;
      case 'bookmark':
        if (e.rv !== undefined) cursor.rv = e.rv;
        return undefined;
      case 'expired':
        this.#log.info('watch resourceVersion expired (410); starting over from the current state', { resourceVersion: cursor.rv });
        return { kind: 'list' };
      case 'error':
        throw new StreamProblem(e.message);
      case 'broken':
        throw new StreamProblem(e.why);
      case 'odd':
        return this.#health.odd(e.why);
      case 'blank':
        return undefined;
    }
  }

  #backoff(err: unknown): number {
    const window = Math.min(backoffCapMs, backoffBaseMs * 2 ** this.#attempt);
    this.#attempt++;
    const floor = err instanceof ApiError ? (err.retryAfterMs ?? 0) : 0;
    return Math.max(floor, Math.random() * window);
  }

  /** A stream that stayed up: the backoff window resets and a logged problem has cleared. */
  #healthy(): void {
    this.#attempt = 0;
    this.#health.resolved();
  }
}
