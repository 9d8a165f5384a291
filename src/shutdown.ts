// The shutdown actions: HTTP requests to the sidecars' local endpoints, and signals to
// processes by name through a shared process namespace. One attempt each, all at once;
// a failure is a warning and never changes proa's exit code.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { Config, KillSignal } from './cli.ts';
import type { Logger } from './log.ts';
import { userAgent } from './version.ts';

/** A URL fit for logs: credentials in it are not. */
function display(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

export async function sendShutdownRequest(method: 'GET' | 'POST', url: URL, timeoutMs: number, log: Logger): Promise<void> {
  const started = performance.now();
  const fields = { method, url: display(url) };
  const ms = (): number => Math.round(performance.now() - started);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'User-Agent': userAgent, ...(method === 'POST' ? { 'Content-Length': '0' } : {}) },
      }, (res: IncomingMessage) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
    if (status >= 200 && status < 300) log.info('shutdown request answered', { ...fields, status, durationMs: ms() });
    else log.warn('shutdown request got a non-2xx answer', { ...fields, status, durationMs: ms() });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const error = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs}ms` : (e.code ?? e.message);
    log.warn('shutdown request failed', { ...fields, error, durationMs: ms() });
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
function killTargets(processes: Process[], names: string[] | 'all', spare: number[]): Process[] {
  return processes.filter((p) => p.pid !== 1 && !spare.includes(p.pid) && (names === 'all' || names.includes(p.name)));
}

function signalProcesses(names: string[] | 'all', signal: KillSignal, childPid: number | undefined, log: Logger): void {
  const spare = [process.pid, ...(childPid === undefined ? [] : [childPid])];
  const targets = killTargets(listProcesses(), names, spare);
  for (const p of targets) {
    try {
      process.kill(p.pid, signal.name);
      log.info('sent signal', { signal: signal.name, pid: p.pid, name: p.name });
    } catch (err) {
      log.warn('could not signal process', { signal: signal.name, pid: p.pid, name: p.name, error: (err as NodeJS.ErrnoException).code });
    }
  }
  if (names === 'all') {
    if (targets.length === 0) log.warn('--kill-all found no other process to signal (it needs shareProcessNamespace: true in the Pod spec)');
    return;
  }
  for (const name of names) {
    if (!targets.some((p) => p.name === name)) {
      log.warn('no visible process by that name (--kill needs shareProcessNamespace: true in the Pod spec)', { name });
    }
  }
}

/** Runs every shutdown action once, concurrently; resolves when all have finished. */
export async function runShutdownActions(config: Config, log: Logger, childPid?: number): Promise<void> {
  const requests = [
    ...config.httpGet.map((u) => sendShutdownRequest('GET', u, config.httpTimeoutMs, log)),
    ...config.httpPost.map((u) => sendShutdownRequest('POST', u, config.httpTimeoutMs, log)),
  ];
  try {
    if (config.killAll) signalProcesses('all', config.killSignal, childPid, log);
    else if (config.kill.length > 0) signalProcesses(config.kill, config.killSignal, childPid, log);
  } catch (err) {
    log.warn('cannot list processes in /proc to signal them', { error: (err as NodeJS.ErrnoException).code ?? String(err) });
  }
  if (requests.length + config.kill.length === 0 && !config.killAll) {
    log.debug('no shutdown actions configured');
  }
  await Promise.all(requests);
}
