// Shutdown requests: HTTP GET or POST to a sidecar's local endpoint. A connection that
// fails (refused, reset, timed out) or a 429/5xx answer is tried again (shared/attempts.ts); any
// other answer ends the action. The sidecar is usually seconds away from listening when
// proa stops early, so a single attempt would often miss. The outcome is logged when it
// changes (first failure, a different failure, success), not at every retry.
// Loaded only when a request is configured: https, net and dns cost start-up time.
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Logger } from '../shared/log.ts';
import { delay, pause, type Attempts, type Outcome } from '../shared/attempts.ts';
import { userAgent } from '../shared/version.ts';
import { lookup } from '../shared/lookup.ts';
import { display, hostOf, isLocalHost } from '../shared/urls.ts';

/** Interim (1xx) heads skipped before an answer; past this, a sidecar is only stalling. */
const maxInterimHeads = 32;

type Attempt = { kind: 'answered'; status: number } | { kind: 'failed'; error: string; status?: number };

function attempt(method: 'GET' | 'POST', url: URL, timeoutMs: number, stop: AbortSignal): Promise<Attempt> {
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]);
  const failure = (err: NodeJS.ErrnoException): Attempt => {
    const timedOut = err.name === 'TimeoutError' || (err.name === 'AbortError' && !stop.aborted);
    return { kind: 'failed', error: timedOut ? `no answer within ${timeoutMs}ms` : (err.code ?? err.message) };
  };
  const judged = (status: number): Attempt =>
    status === 429 || status >= 500 ? { kind: 'failed', error: `HTTP ${status}`, status } : { kind: 'answered', status };
  if (url.protocol === 'http:') return plainAttempt(method, url, signal, failure, judged);
  return new Promise((resolve) => {
    const req = httpsRequest(url, {
      method,
      lookup: lookup as never,
      signal,
      headers: { 'User-Agent': userAgent, ...(method === 'POST' ? { 'Content-Length': '0' } : {}) },
    }, (res: IncomingMessage) => {
      res.resume();
      res.once('end', () => resolve(judged(res.statusCode ?? 0)));
      res.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'failed', error: err.code ?? err.message }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve(failure(err)));
    req.end();
  });
}

/**
 * http: the request written by hand on a socket: the first request through Node's HTTP
 * client costs ~1 ms of one-time set-up, on the path from the command's exit to the
 * sidecar (npm run bench). One request, `Connection: close`; the answer is its status
 * line, and the attempt is over once the headers are in (the body is not needed).
 */
function plainAttempt(method: 'GET' | 'POST', url: URL, signal: AbortSignal,
  failure: (err: NodeJS.ErrnoException) => Attempt, judged: (status: number) => Attempt): Promise<Attempt> {
  return new Promise((resolve) => {
    const credentials = url.username || url.password
      ? `Authorization: Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}\r\n` : '';
    const text = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ${userAgent}\r\n${credentials}` +
      `${method === 'POST' ? 'Content-Length: 0\r\n' : ''}Connection: close\r\n\r\n`;
    const socket = connect({ host: hostOf(url), port: Number(url.port || 80), lookup: lookup as never, noDelay: true });
    let head = '';
    let settled = false;
    const settle = (r: Attempt): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', aborted);
      socket.destroy();
      resolve(r);
    };
    const aborted = (): void => settle(failure(Object.assign(new Error('aborted'), {
      name: (signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'TimeoutError' : 'AbortError', code: 'ABORT_ERR',
    })));
    if (signal.aborted) return aborted();
    signal.addEventListener('abort', aborted);
    socket.once('connect', () => socket.write(text));
    let heads = 0;
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      for (let end = head.indexOf('\r\n\r\n'); end >= 0; end = head.indexOf('\r\n\r\n')) {
        const status = head.match(/^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/);
        // A 1xx head (100 Continue, 103 Early Hints) is interim: the answer follows it.
        if (status && status[1]!.startsWith('1') && status[1] !== '101') {
          if (++heads > maxInterimHeads) return settle({ kind: 'failed', error: `more than ${maxInterimHeads} interim (1xx) answers` });
          head = head.slice(end + 4);
          continue;
        }
        return settle(status ? judged(Number(status[1])) : { kind: 'failed', error: 'not an HTTP answer' });
      }
      if (head.length > 65536) settle({ kind: 'failed', error: 'not an HTTP answer' });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => settle({ kind: 'failed', error: err.code ?? err.message }));
    socket.once('close', () => settle({ kind: 'failed', error: 'ECONNRESET' }));
  });
}

/** One shutdown request, retried while the sidecar is not answering (see the top of this file). */
export async function shutdownRequest(method: 'GET' | 'POST', url: URL, timeoutMs: number, a: Attempts, log: Logger,
  { fix, podPorts = [] }: { fix?: string; podPorts?: readonly number[] } = {}): Promise<Outcome> {
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
      if (r.status >= 200 && r.status < 300) {
        log.info('shutdown request answered', { ...fields, status: r.status, durationMs, ...extra });
        return { action, done: true };
      }
      // Refused for good (not 429 or 5xx): a mistake to name, not a success, and no retry helps.
      const other = method === 'GET' ? '--shutdown-http-post' : '--shutdown-http-get';
      const why = r.status === 405 ? `the endpoint wants another method: try ${other}`
        : r.status === 404 ? 'nothing answers at that path: check the URL' : 'the sidecar refused it';
      const hint = r.status === 405 ? why : fix ?? why;
      log.error(`shutdown request refused (HTTP ${r.status}); not retrying it: ${hint}`, { ...fields, status: r.status, durationMs, ...extra });
      return { action, done: false, error: `HTTP ${r.status}: ${hint}` };

    }
    if (a.stop.aborted) return { action, done: false, error: lastError ?? r.error };
    const retrying = a.retry && performance.now() < a.deadline;
    if (r.error !== lastError) {
      // Refused on this machine's loopback, at a port no container of the Pod declares or
      // probes, after the sidecars were ready: most likely the wrong port.
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      const wrongPort = r.error === 'ECONNREFUSED' && podPorts.length > 0 && !podPorts.includes(port) && isLocalHost(url.hostname)
        ? { hint: `a wrong port? nothing listens on ${port}; the Pod's containers declare or probe ${[...podPorts].sort((x, y) => x - y).join(', ')}` } : {};
      log.warn(retrying ? 'shutdown request failed; retrying' : 'shutdown request failed', { ...fields, error: r.error, status: r.status, durationMs, ...wrongPort });
      step = 0;
    } else {
      log.debug('shutdown request failed again', { ...fields, error: r.error, attempt: n + 1 });
    }
    lastError = r.error;
    if (!retrying || !(await pause(delay(step++), a))) return { action, done: false, error: lastError };
  }
}
