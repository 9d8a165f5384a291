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
import { connect } from 'node:net';
import type { Config } from './cli.ts';
import type { Logger } from './log.ts';
import { loopbackLookup } from './requests.ts';
import { display } from './urls.ts';
import { portOf } from './known.ts';

export interface Endpoint {
  /** For the log: the URL (credentials removed) or HOST:PORT. */
  name: string;
  host: string;
  port: number;
  /** --wait-http: GET this; otherwise a connection is enough. */
  url?: URL;
}

export const attemptTimeoutMs = 1000;
export const perAttemptMs = 200;

/** The endpoints --wait-http and --wait-tcp name. */
export function waitEndpoints(config: Config): Endpoint[] {
  return [
    ...config.waitHttp.map((u) => ({ name: display(u), host: u.hostname.replace(/^\[|\]$/g, ''), port: portOf(u), url: u })),
    ...config.waitTcp.map((t) => ({ name: t.text, host: t.host, port: t.port })),
  ];
}

/** The host:port of each HTTP shutdown target, once each: a sidecar's own endpoint too. */
export function shutdownEndpoints(urls: readonly URL[]): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const u of urls) {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const key = `${host}:${portOf(u)}`;
    if (!seen.has(key)) seen.set(key, { name: u.hostname.includes(':') ? `[${host}]:${portOf(u)}` : key, host, port: portOf(u) });
  }
  return [...seen.values()];
}

/** Every address `host` stands for, as proa connects to it (localhost without DNS). */
function addresses(host: string): Promise<string[]> {
  return new Promise((resolve) => {
    loopbackLookup(host, { all: true }, ((err: Error | null, list: { address: string }[]) => resolve(err ? [] : list.map((a) => a.address))) as never);
  });
}

/** One TCP connection: undefined when accepted, else why not (the error's code, or a timeout). */
function tcpAttempt(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, lookup: loopbackLookup as never, timeout: timeoutMs });
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
    const req = get(url, { method: 'GET', lookup: loopbackLookup as never, signal, headers: { 'User-Agent': 'proa' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? undefined : `HTTP ${status}`);
    });
    req.once('error', (e: NodeJS.ErrnoException) => resolve(signal.aborted ? `no answer within ${timeoutMs / 1000}s` : (e.code ?? e.message)));
    req.end();
  });
}

/**
 * Gone: undefined, when every address of the endpoint's host refuses connections; else
 * what still answers (or does not say: a timeout is not a refusal).
 */
export async function probeClosed(ep: Endpoint, timeoutMs = attemptTimeoutMs): Promise<string | undefined> {
  const all = await addresses(ep.host);
  if (all.length === 0) return `${ep.host} does not resolve`;
  const results = await Promise.all(all.map(async (a) => [a, await tcpAttempt(a, ep.port, timeoutMs)] as const));
  const open = results.filter(([, why]) => why !== 'ECONNREFUSED');
  if (open.length === 0) return undefined;
  return open.map(([a, why]) => (why === undefined ? `accepting connections on ${a}` : `${a}: ${why}`)).join(', ');
}

/**
 * Probes `endpoints` with `probe` in rounds (see the top of this file) until one round
 * finds every one passing, `stop` aborts, or `until` (performance.now()) passes; the
 * first round runs whatever the time.
 * `onRound` hears each round's failures, by endpoint name. Resolves true when all passed.
 */
export async function pollUntil(endpoints: readonly Endpoint[], probe: (ep: Endpoint) => Promise<string | undefined>,
  stop: AbortSignal, onRound: (failing: Map<string, string>) => void, until = Infinity): Promise<boolean> {
  // One round at least: what a closing wait reports must have been looked at, even when
  // the actions took all of the bound.
  for (let first = true; first || (!stop.aborted && performance.now() < until); first = false) {
    const began = performance.now();
    const results = await Promise.all(endpoints.map(async (ep) => [ep.name, await probe(ep)] as const));
    const failing = new Map(results.filter((r): r is readonly [string, string] => r[1] !== undefined));
    onRound(failing);
    if (failing.size === 0) return true;
    const wait = began + perAttemptMs * endpoints.length - performance.now();
    if (wait > 0) await pause(Math.min(wait, until - performance.now()), stop);
  }
  return false;
}

function pause(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted || ms <= 0) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done);
  });
}

/**
 * The endpoints as an extra gate on the watch's readiness (with API access, the command
 * starts when both agree): probed in rounds until stopped; open while the last round
 * found every one ready. Each endpoint's change is logged once.
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
        await pollUntil(this.#endpoints, probeReady, this.#stop.signal, (failing) => this.#round(failing));
        if (!this.#stop.signal.aborted) await pause(perAttemptMs * this.#endpoints.length, this.#stop.signal);
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
    const before = this.#failing;
    const first = this.#rounds === 0;
    this.#rounds++;
    this.#failing = failing;
    let changed = first;
    for (const ep of this.#endpoints) {
      const was = before.get(ep.name);
      const now = failing.get(ep.name);
      if (!first && was === now) continue;
      changed = true;
      if (now === undefined) this.#log.info(`endpoint ${ep.name}: ready`, { endpoint: ep.name });
      else if (first || was === undefined || now.split(' ')[0] !== was.split(' ')[0]) this.#log.info(`endpoint ${ep.name}: not ready (${now})`, { endpoint: ep.name });
    }
    if (changed) for (const l of [...this.#listeners]) l();
  }
}
