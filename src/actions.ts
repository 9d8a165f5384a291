// The shutdown actions: HTTP requests to the sidecars' local endpoints, and signals to
// processes by name through a shared process namespace. Each is retried until it has
// done its work or its caller says stop (see shutdown.ts for when that is):
//
// - HTTP: a connection that fails (refused, reset, timed out) or a 429/5xx answer is
//   tried again; any other answer ends the action. The sidecar is usually seconds
//   away from listening when proa stops early, so a single attempt would often miss.
// - --kill NAME: looks again on the same schedule, so a process that appears later (a
//   sidecar still starting, or restarted by the kubelet) is signalled too; each PID
//   at most once.
// - --kill-all: one sweep, never repeated: a later `kubectl exec` shell must not be killed.
//
// Back-off between attempts: 150 ms doubling to a 2 s cap, with equal jitter, starting
// over when the failure changes. A sidecar comes up within seconds; 2 s keeps the
// reaction prompt without hammering it.
// Each action's outcome is logged when it changes (first failure, a different failure,
// success), not at every retry.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { KillSignal } from './cli.ts';
import type { Logger } from './log.ts';
import { userAgent } from './version.ts';

const backoffBaseMs = 150;
const backoffCapMs = 2000;

/** When an action must stop retrying, and whether it may retry at all. */
export interface Attempts {
  /** false: one attempt (the Pod is being deleted, or --shutdown-timeout 0). */
  retry: boolean;
  /** performance.now() after which no new attempt starts. */
  deadline: number;
  /** Aborted when retrying is pointless (the sidecars are gone) or forbidden (a signal). */
  stop: AbortSignal;
  /** Aborted by a signal: also cuts the request in flight. Every action gets its first attempt otherwise. */
  interrupt: AbortSignal;
}

/** What an action achieved, for the last word when a sidecar survives. */
export interface Outcome {
  action: string;
  done: boolean;
  /** The last failure, when not done. */
  error?: string;
}

/** A URL fit for logs: credentials in it are not. */
function display(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

function delay(attempt: number): number {
  const window = Math.min(backoffCapMs, backoffBaseMs * 2 ** attempt);
  return window / 2 + Math.random() * (window / 2);
}

/** Sleeps until `ms` pass, the deadline passes, or `stop` aborts; true if another attempt may start. */
function pause(ms: number, a: Attempts): Promise<boolean> {
  const until = Math.min(ms, a.deadline - performance.now());
  if (a.stop.aborted || until <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      a.stop.removeEventListener('abort', done);
      resolve(!a.stop.aborted && performance.now() < a.deadline);
    };
    const timer = setTimeout(done, until);
    a.stop.addEventListener('abort', done);
  });
}

/**
 * `localhost` and names under `.localhost` are the loopback addresses (RFC 6761),
 * answered here without DNS or /etc/hosts: scratch and Alpine images have no
 * nsswitch.conf, glibc then asks DNS first, and in a Pod that is cluster DNS, where
 * `localhost` is search-expanded and may come back NXDOMAIN or wrong.
 */
export function loopbackLookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: (...args: never[]) => void): void {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name !== 'localhost' && !name.endsWith('.localhost')) {
    dnsLookup(hostname, options as never, callback as never);
    return;
  }
  const family = options.family === 6 || options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 'IPv4' ? 4 : 0;
  const all: LookupAddress[] = [
    ...(family !== 6 ? [{ address: '127.0.0.1', family: 4 }] : []),
    ...(family !== 4 ? [{ address: '::1', family: 6 }] : []),
  ];
  const cb = callback as unknown as (err: null, address: string | LookupAddress[], family?: number) => void;
  process.nextTick(() => (options.all ? cb(null, all) : cb(null, all[0]!.address, all[0]!.family)));
}

type Attempt = { kind: 'answered'; status: number } | { kind: 'failed'; error: string; status?: number };

function attempt(method: 'GET' | 'POST', url: URL, timeoutMs: number, stop: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method,
      lookup: loopbackLookup as never,
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
      headers: { 'User-Agent': userAgent, ...(method === 'POST' ? { 'Content-Length': '0' } : {}) },
    }, (res: IncomingMessage) => {
      res.resume();
      res.once('end', () => {
        const status = res.statusCode ?? 0;
        resolve(status === 429 || status >= 500 ? { kind: 'failed', error: `HTTP ${status}`, status } : { kind: 'answered', status });
      });
      res.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'failed', error: err.code ?? err.message }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      const timedOut = err.name === 'TimeoutError' || (err.name === 'AbortError' && !stop.aborted);
      resolve({ kind: 'failed', error: timedOut ? `no answer within ${timeoutMs}ms` : (err.code ?? err.message) });
    });
    req.end();
  });
}

/** One shutdown request, retried while the sidecar is not answering (see the top of this file). */
export async function shutdownRequest(method: 'GET' | 'POST', url: URL, timeoutMs: number, a: Attempts, log: Logger): Promise<Outcome> {
  const fields = { method, url: display(url) };
  const action = `${method} ${display(url)}`;
  const started = performance.now();
  let lastError: string | undefined;
  // Back-off step: it starts over when the failure changes (refused, then 503: the sidecar
  // has just started listening and is draining; it will agree soon).
  let step = 0;
  for (let n = 0; ; n++) {
    const t0 = performance.now();
    const r = await attempt(method, url, timeoutMs, n === 0 ? a.interrupt : a.stop);
    const durationMs = Math.round(performance.now() - t0);
    if (r.kind === 'answered') {
      const extra = n > 0 ? { attempts: n + 1, afterMs: Math.round(performance.now() - started) } : {};
      if (r.status >= 200 && r.status < 300) log.info('shutdown request answered', { ...fields, status: r.status, durationMs, ...extra });
      else log.warn('shutdown request got a non-2xx answer; not retrying it', { ...fields, status: r.status, durationMs, ...extra });
      return { action, done: true };
    }
    if (a.stop.aborted) return { action, done: false, error: lastError ?? r.error };
    const retrying = a.retry && performance.now() < a.deadline;
    if (r.error !== lastError) {
      log.warn(retrying ? 'shutdown request failed; retrying' : 'shutdown request failed', { ...fields, error: r.error, status: r.status, durationMs });
      step = 0;
    } else {
      log.debug('shutdown request failed again', { ...fields, error: r.error, attempt: n + 1 });
    }
    lastError = r.error;
    if (!retrying || !(await pause(delay(step++), a))) return { action, done: false, error: lastError };
  }
}

export interface Process {
  pid: number;
  name: string;
}

/**
 * The processes visible in /proc, named by the base name of /proc/PID/exe, or by
 * `comm` (cut to 15 characters by the kernel) where that link cannot be read.
 * Kernel threads and zombies, which have no command line, are left out.
 */
export function listProcesses(proc = '/proc'): Process[] {
  const found: Process[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const name = processName(Number(entry), proc);
    if (name !== undefined) found.push({ pid: Number(entry), name });
  }
  return found;
}

/** undefined for a kernel thread, a zombie, or a process that exited while we looked. */
function processName(pid: number, proc: string): string | undefined {
  try {
    if (readFileSync(`${proc}/${pid}/cmdline`).length === 0) return undefined;
    try {
      return basename(readlinkSync(`${proc}/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    } catch {
      return readFileSync(`${proc}/${pid}/comm`, 'utf8').trim();
    }
  } catch {
    return undefined;
  }
}

/** PID 1's name: `systemd` or `init` there means the host's PID namespace. */
export function pidOneName(proc = '/proc'): string | undefined {
  return processName(1, proc);
}

/** Never PID 1 (the Pod's pause process: killing it kills the Pod), proa, or its child. */
function killTargets(processes: Process[], names: readonly string[] | 'all', spare: Set<number>): Process[] {
  return processes.filter((p) => p.pid !== 1 && !spare.has(p.pid) && (names === 'all' || names.includes(p.name)));
}

function signal(p: Process, sig: KillSignal, log: Logger): boolean {
  try {
    process.kill(p.pid, sig.number);
    log.info('sent signal', { signal: sig.name, pid: p.pid, name: p.name });
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    log.warn(code === 'EPERM'
      ? `not permitted to signal ${p.name} (pid ${p.pid}): it runs as another user (Istio's proxy runs as uid 1337); ` +
        "proa's container needs the same runAsUser, or CAP_KILL (securityContext.capabilities.add: [KILL])"
      : 'could not signal process', { signal: sig.name, pid: p.pid, name: p.name, error: code });
    return false;
  }
}

function visible(log: Logger): Process[] {
  try {
    return listProcesses();
  } catch (err) {
    log.warn('cannot list processes in /proc to signal them', { error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return [];
  }
}

/** --kill-all: one sweep of every visible process but PID 1, proa and its child. */
export function killAll(sig: KillSignal, childPid: number | undefined, log: Logger): Outcome {
  const spare = new Set([process.pid, ...(childPid === undefined ? [] : [childPid])]);
  const targets = killTargets(visible(log), 'all', spare);
  for (const p of targets) signal(p, sig, log);
  if (targets.length === 0) log.warn('--kill-all found no other process to signal (it needs shareProcessNamespace: true in the Pod spec)');
  return { action: '--kill-all', done: targets.length > 0, ...(targets.length === 0 ? { error: 'no other process visible' } : {}) };
}

/**
 * --kill NAME...: signals every process by those names, then looks again until `a`
 * says stop. `untilSignalled`: stop once every name has been signalled at least once
 * (nothing to watch for their exit); otherwise keep looking for restarted ones.
 */
export async function killByName(names: readonly string[], sig: KillSignal, childPid: number | undefined, a: Attempts, untilSignalled: boolean, log: Logger): Promise<Outcome[]> {
  const spare = new Set([process.pid, ...(childPid === undefined ? [] : [childPid])]);
  const signalled = new Set<number>();
  const hit = new Set<string>();
  const reported = new Set<string>();
  for (let n = 0; ; n++) {
    for (const p of killTargets(visible(log), names, spare)) {
      if (signalled.has(p.pid)) continue;
      signalled.add(p.pid);
      if (signal(p, sig, log)) hit.add(p.name);
    }
    const missing = names.filter((name) => !hit.has(name));
    for (const name of missing) {
      if (reported.has(name)) continue;
      reported.add(name);
      log.warn(a.retry ? 'no visible process by that name yet; looking again (--kill needs shareProcessNamespace: true in the Pod spec)'
        : 'no visible process by that name (--kill needs shareProcessNamespace: true in the Pod spec)', { name });
    }
    if (untilSignalled && missing.length === 0) break;
    if (!a.retry || !(await pause(delay(n), a))) break;
  }
  return names.map((name) => ({ action: `--kill ${name}`, done: hit.has(name), ...(hit.has(name) ? {} : { error: 'no such process seen' }) }));
}
