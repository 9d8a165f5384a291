// A sidecar known by its own endpoint, as scuttle and linkerd-await know it: ready when a
// GET answers 2xx (--wait-http) or a connection is accepted (--wait-tcp); gone when
// every address its host resolves to refuses connections. A timeout is not a refusal:
// a host that stops answering may still be running. The exit is judged by the
// endpoint, not the process, so a proxy that closes its port and then drains counts as
// gone (the README says so).
//
// Polling, and why that period: each round probes every endpoint still in question at
// once, and the next round starts 200 ms per endpoint probed after the last one began,
// so there are at most 5 attempts a second in all, each bounded to 1 s. 200 ms keeps the
// command's start within a fifth of a second of the sidecar's readiness (a once-a-second
// poller averages half a second), at a cost a local sidecar does not notice.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { lookup } from '../shared/lookup.ts';
import { display, hostOf, isLocalHost, portOf } from '../shared/urls.ts';
import { sleep } from '../shared/limits.ts';

export interface Endpoint {
  /** For the log: the URL (credentials removed) or HOST:PORT. */
  name: string;
  host: string;
  port: number;
  /** --wait-http: GET this; otherwise a connection is enough. */
  url?: URL;
}

const attemptTimeoutMs = 1000;
const perAttemptMs = 200;

/** The endpoints --wait-http and --wait-tcp name. */
export function waitEndpoints(config: Config): Endpoint[] {
  return [
    ...config.waitHttp.map((u) => ({ name: display(u), host: hostOf(u), port: portOf(u), url: u })),
    ...config.waitTcp.map((t) => ({ name: t.text, host: t.host, port: t.port })),
  ];
}

/** The host:port of each HTTP shutdown target, once each: a sidecar's own endpoint too. */
export function shutdownEndpoints(urls: readonly URL[]): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const u of urls) {
    const host = hostOf(u);
    const key = `${host}:${portOf(u)}`;
    if (!seen.has(key)) seen.set(key, { name: u.hostname.includes(':') ? `[${host}]:${portOf(u)}` : key, host, port: portOf(u) });
  }
  return [...seen.values()];
}

/** Every address `host` stands for, as proa connects to it (localhost without DNS). */
function addresses(host: string): Promise<string[]> {
  return new Promise((resolve) => {
    lookup(host, { all: true }, ((err: Error | null, list: { address: string }[]) => resolve(err ? [] : list.map((a) => a.address))) as never);
  });
}

/** One TCP connection: undefined when accepted, else why not (the error's code, or a timeout). */
export function tcpAttempt(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, lookup: lookup as never, timeout: timeoutMs });
    const done = (why: string | undefined): void => {
      s.destroy();
      resolve(why);
    };
    s.once('connect', () => done(undefined));
    s.once('timeout', () => done(`no answer within ${timeoutMs / 1000}s`));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** Ready: undefined; not ready: why (a refused connection, a status, a timeout). */
export function probeReady(ep: Endpoint, timeoutMs = attemptTimeoutMs): Promise<string | undefined> {
  if (!ep.url) return tcpAttempt(ep.host, ep.port, timeoutMs);
  const url = ep.url;
  return new Promise((resolve) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const get = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = get(url, { method: 'GET', lookup: lookup as never, signal, headers: { 'User-Agent': 'proa' } }, (res) => {
      // The status is all a probe needs: the body is not read, so a sidecar that streams
      // one without end holds no connection open past its answer.
      res.destroy();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? undefined : `HTTP ${status}`);
    });
    req.once('error', (e: NodeJS.ErrnoException) => resolve(signal.aborted ? `no answer within ${timeoutMs / 1000}s` : (e.code ?? e.message)));
    req.end();
  });
}

const refused: ReadonlySet<string> = new Set(['ECONNREFUSED']);
/**
 * On an address given as such, or a loopback name, these too mean nothing listens there:
 * the address is not on any interface (no IPv6 in the Pod: `localhost` resolves to ::1 as
 * well, which cannot be connected to), or no route or family leads to it. For a name
 * found through DNS they may be passing, and do not end an exit wait.
 */
const nothingThere: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EAFNOSUPPORT']);

/**
 * Gone: undefined, when every address of the endpoint's host refuses connections; else
 * what still answers (or does not say: a timeout is not a refusal).
 */
export async function probeClosed(ep: Endpoint, timeoutMs = attemptTimeoutMs): Promise<string | undefined> {
  const all = await addresses(ep.host);
  if (all.length === 0) return `${ep.host} does not resolve`;
  const results = await Promise.all(all.map(async (a) => [a, await tcpAttempt(a, ep.port, timeoutMs)] as const));
  const closed = isIP(ep.host) !== 0 || isLocalHost(ep.host) ? nothingThere : refused;
  const open = results.filter(([, why]) => !closed.has(why ?? ''));
  if (open.length === 0) return undefined;
  return open.map(([a, why]) => (why === undefined ? `accepting connections on ${a}` : `${a}: ${why}`)).join(', ');
}

/** One round: every endpoint probed at once; the failing ones, by name, with why. */
async function round(endpoints: readonly Endpoint[], probe: (ep: Endpoint) => Promise<string | undefined>): Promise<Map<string, string>> {
  const results = await Promise.all(endpoints.map(async (ep) => [ep.name, await probe(ep)] as const));
  return new Map(results.filter((r): r is readonly [string, string] => r[1] !== undefined));
}

/** Until the next round may start (see the top of this file), or `stop`. */
const nextRound = (began: number, count: number, stop: AbortSignal, until = Infinity): Promise<void> =>
  sleep(Math.min(began + perAttemptMs * count, until) - performance.now(), stop);

/**
 * Probes `endpoints` with `probe` in rounds until one round finds every one passing,
 * `stop` aborts, or `until` (performance.now()) passes; the first round runs whatever the
 * time, so that what a closing wait reports has been looked at even when the actions
 * took all of the bound. `onRound` hears each round's failures. True when all passed.
 */
export async function pollUntil(endpoints: readonly Endpoint[], probe: (ep: Endpoint) => Promise<string | undefined>,
  stop: AbortSignal, onRound: (failing: Map<string, string>) => void, until = Infinity): Promise<boolean> {
  for (let first = true; first || (!stop.aborted && performance.now() < until); first = false) {
    const began = performance.now();
    const failing = await round(endpoints, probe);
    onRound(failing);
    if (failing.size === 0) return true;
    await nextRound(began, endpoints.length, stop, until);
  }
  return false;
}

/**
 * The endpoints' readiness, probed in rounds until stopped: open while the last round
 * found every one ready; each endpoint's change is logged once. An extra gate on the
 * watch's readiness (with API access, the command starts when both agree), and the
 * whole readiness without API access (sidecars/unwatched.ts).
 */
export class EndpointGate {
  readonly #endpoints: readonly Endpoint[];
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #listeners = new Set<() => void>();
  #failing = new Map<string, string>();
  #rounds = 0;

  constructor(endpoints: readonly Endpoint[], log: Logger) {
    this.#endpoints = endpoints;
    this.#log = log;
  }

  start(): void {
    void (async () => {
      while (!this.#stop.signal.aborted) {
        const began = performance.now();
        this.#round(await round(this.#endpoints, probeReady));
        await nextRound(began, this.#endpoints.length, this.#stop.signal);
      }
    })();
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Every endpoint was ready in the last round. */
  get open(): boolean {
    return this.#rounds > 0 && this.#failing.size === 0;
  }

  /** What keeps it shut, one line per endpoint. */
  blockers(): string[] {
    if (this.#rounds === 0) return ['the endpoints have not been probed yet'];
    return [...this.#failing].map(([name, why]) => `endpoint ${name} is not ready: ${why}`);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #round(failing: Map<string, string>): void {
    if (this.#stop.signal.aborted) return;
    // Logged when an endpoint's state changes: ready, or failing in another way (its
    // first word: ECONNREFUSED, HTTP, no answer), not at every round.
    const kind = (why: string | undefined): string => why?.split(' ')[0] ?? 'ready';
    for (const ep of this.#endpoints) {
      const now = failing.get(ep.name);
      if (this.#rounds > 0 && kind(this.#failing.get(ep.name)) === kind(now)) continue;
      this.#log.info(now === undefined ? `endpoint ${ep.name}: ready` : `endpoint ${ep.name}: not ready (${now})`, { endpoint: ep.name });
    }
    this.#rounds++;
    this.#failing = failing;
    for (const l of [...this.#listeners]) l();
  }
}
