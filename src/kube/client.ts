// kube/: a Kubernetes client on Node's own modules: requests (this module), in-cluster
// access (config.ts), the one boundary for the API's data (decode.ts), the watch on the
// Pod (watch.ts), the Pod's Events (recorder.ts), the Role to apply (rbac.ts).
//
// Requests to the API server: TLS verified against the service account's ca.crt and
// nothing else, the bearer token read fresh for each request, one retry on 401.
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { userAgent } from '../shared/version.ts';
import { errorBodyDeadlineMs, maxErrorBodyBytes, maxPodDocumentBytes, maxPodDocumentText } from '../shared/limits.ts';
import type { ClusterAccess } from './config.ts';

/** The API server answered with an error status; `reason` and `message` come from its Status body. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly reason: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(status: number, reason: string | undefined, message: string, retryAfterMs: number | undefined) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No HTTP answer: connection refused or reset, DNS, TLS verification, timeouts. */
/** A TLS verification failure (Node's and OpenSSL's codes), as opposed to the network. */
export function isTlsFailure(code: string | undefined): boolean {
  return /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code ?? '');
}

export class TransportError extends Error {
  override name = 'TransportError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// The API server answers a watch's headers at once; a connection that stays silent
// this long before them (a blackholed address) is not going to answer.
const headersTimeoutMs = 30_000;

function retryAfter(res: IncomingMessage): number | undefined {
  const v = res.headers['retry-after'];
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim()) * 1000;
}

/**
 * A response's body, read up to `maxBytes` and for at most `deadlineMs`: a body that
 * never ends or never stops growing is cut there (`whole: false`) and its connection
 * closed, so that no answer can hold proa's watch or its memory.
 */
async function readBody(res: IncomingMessage, maxBytes: number, deadlineMs: number): Promise<{ body: Buffer; whole: boolean; why?: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let why: string | undefined;
  const timer = setTimeout(() => {
    why = `no end within ${deadlineMs / 1000}s`;
    res.destroy();
  }, deadlineMs);
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        why = `larger than ${maxBytes} bytes`;
        res.destroy();
        break;
      }
      chunks.push(chunk);
    }
  } catch {
    why ??= 'cut off';
  } finally {
    clearTimeout(timer);
  }
  return { body: Buffer.concat(chunks), whole: why === undefined, ...(why ? { why } : {}) };
}

async function readError(res: IncomingMessage): Promise<ApiError> {
  const { body } = await readBody(res, maxErrorBodyBytes, errorBodyDeadlineMs);
  const status = res.statusCode ?? 0;
  let reason: string | undefined;
  let message = `HTTP ${status}`;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { reason: r, message: m } = parsed as { reason?: unknown; message?: unknown };
      if (typeof r === 'string') reason = r.slice(0, 256);
      if (typeof m === 'string') message = m.slice(0, 1024);
    }
  } catch {
    // Not a Status object (a proxy's error page, a cut-off body): the status code says enough.
  }
  return new ApiError(status, reason, message, retryAfter(res));
}

/**
 * Node 22.23's tls.checkServerIdentity rejects every IPv6 literal (it passes the host
 * through domainToASCII, which empties it), which would lock proa out of IPv6-only
 * clusters. For an IP literal, match the certificate's IP SANs exactly ourselves;
 * names go to Node's check. The chain is verified against ca.crt either way.
 */
export function verifyServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
  const family = isIP(host);
  if (family === 0) return checkServerIdentity(host, cert);
  const ips = (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('IP Address:')).map((n) => n.slice(11));
  const listed = new BlockList();
  for (const ip of ips) {
    const f = isIP(ip);
    if (f !== 0) listed.addAddress(ip, f === 6 ? 'ipv6' : 'ipv4');
  }
  if (listed.check(host, family === 6 ? 'ipv6' : 'ipv4')) return undefined;
  const err: NodeJS.ErrnoException = new Error(`IP ${host} is not among the certificate's addresses: ${ips.join(', ') || 'none'}`);
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/** PATCH sends a JSON merge patch (RFC 7386): the Event series' count and last time. */
export type Method = 'GET' | 'POST' | 'PATCH';

export class ApiClient {
  readonly #access: ClusterAccess;
  constructor(access: ClusterAccess) {
    this.#access = access;
  }

  /**
   * The service account the token stands for (`namespace/name`), from the token's JWT
   * claims, for messages; the token itself is never shown. undefined when unreadable.
   */
  serviceAccount(): string | undefined {
    try {
      const payload = this.#access.readToken().split('.')[1] ?? '';
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
      const m = typeof claims.sub === 'string' ? claims.sub.match(/^system:serviceaccount:([^:]+):(.+)$/) : null;
      return m ? `${m[1]}/${m[2]}` : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * GET `path` and return the response once it is 200, its body unread (a watch
   * stream). Other statuses become ApiError; a 401 is retried once with the token
   * read again, since the kubelet may have just rotated it.
   */
  async stream(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    const first = await this.#get(path, signal);
    if (first.statusCode !== 401) return this.#check(first);
    first.destroy();
    return this.#check(await this.#get(path, signal));
  }

  /**
   * A whole request and its answer (for `proa check`): any status, the body as text,
   * read within the Pod document cap and the headers' deadline; `cut` says why a body
   * was not read whole.
   */
  async request(method: Method, path: string, body?: unknown, timeoutMs = headersTimeoutMs): Promise<{ status: number; body: string; cut?: string }> {
    const signal = AbortSignal.timeout(timeoutMs);
    let res = await this.#get(path, signal, method, body);
    if (res.statusCode === 401) {
      res.destroy();
      res = await this.#get(path, signal, method, body);
    }
    const read = await readBody(res, maxPodDocumentBytes, timeoutMs);
    const cut = read.whole ? undefined : read.why?.startsWith('larger') ? `larger than the ${maxPodDocumentText} cap on a Pod document` : read.why;
    return { status: res.statusCode ?? 0, body: read.body.toString('utf8'), ...(cut ? { cut } : {}) };
  }

  /**
   * request(), given up after `ms` (for what must not hold up an exit): undefined then; a
   * failure to reach the server as status 0 with its message.
   */
  async requestWithin(method: Method, path: string, ms: number): Promise<{ status: number; body: string; cut?: string } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.request(method, path).catch((err: unknown) => ({ status: 0, body: err instanceof Error ? err.message : String(err) })),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #check(res: IncomingMessage): Promise<IncomingMessage> {
    if (res.statusCode === 200) return res;
    throw await readError(res);
  }

  #get(path: string, signal: AbortSignal, method: Method = 'GET', body?: unknown): Promise<IncomingMessage> {
    let token: string;
    try {
      token = this.#access.readToken();
    } catch (err) {
      return Promise.reject(new TransportError('ETOKEN', `cannot read the service-account token: ${(err as NodeJS.ErrnoException).code ?? 'error'}`));
    }
    return new Promise((resolve, reject) => {
      const req = request({
        host: this.#access.host.replace(/^\[(.*)\]$/, '$1'),
        port: this.#access.port,
        path,
        method,
        // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 in the image cannot turn it off.
        rejectUnauthorized: true,
        ca: this.#access.ca,
        checkServerIdentity: verifyServerIdentity,
        agent: false,
        signal,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          'User-Agent': userAgent,
          ...(body === undefined ? {} : { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }),
        },
      });
      const timer = setTimeout(() => req.destroy(new TransportError('ETIMEDOUT', `no answer within ${headersTimeoutMs / 1000}s`)), headersTimeoutMs);
      req.once('response', (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err instanceof TransportError || err.name === 'AbortError') return reject(err);
        reject(new TransportError(err.code ?? 'ERROR', err.message));
      });
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}
