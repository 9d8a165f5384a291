// One attempt of a readiness probe, as the kubelet's prober makes it (pkg/probe/http,
// tcp, grpc in v1.37): what counts as success is the kubelet's rule, so that proa never
// calls a sidecar ready the kubelet would not.
// - HTTP: a GET, one connection closed after it (DisableKeepAlives), `Accept: */*`, the
//   probe's httpHeaders (a Host header sets the host asked for); 200-399 is success.
//   Redirects to the same host are followed, at most 10 (an 11th fails); a redirect to
//   another host, or a 3xx without a Location, ends there as a success, as the kubelet's
//   "Probe terminated redirects" warning does. HTTPS skips certificate checks, as the
//   kubelet's probes do: a sidecar's self-signed certificate is the common case. This is
//   the probe's own request only; nothing here touches the API server's TLS.
// - TCP: a connection accepted.
// - gRPC: grpc.health.v1.Health/Check over cleartext HTTP/2 (node:http2), SERVING only.
// Every attempt is bounded by `timeoutMs`, redirects included; the body of an answer is
// never read, so a sidecar that streams one without end costs nothing.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { tcpAttempt } from './endpoints.ts';
import { userAgent as proaAgent } from '../shared/version.ts';
import type { ProbeTarget } from './target.ts';

export interface Answer {
  ok: boolean;
  /** What the probe got: `HTTP 200`, `ECONNREFUSED`, `SERVING`, `no answer within 1s`. */
  detail: string;
  /** Nothing listens there (the "bound to 127.0.0.1 only" mistake shows this way). */
  refused?: boolean;
}

const maxRedirects = 10;
/** As the kubelet's prober names itself, so that sidecars which treat probes apart (access logs, auth) treat proa's alike. */
const userAgent = `kube-probe/1.37 (${proaAgent})`;

export function attempt(t: ProbeTarget, timeoutMs: number): Promise<Answer> {
  if (t.kind === 'tcp') return tcp(t.host, t.port, timeoutMs);
  if (t.kind === 'grpc') return grpcHealth(t.host, t.port, t.service, timeoutMs);
  return httpGet(t.url, t.headers, timeoutMs);
}

async function tcp(host: string, port: number, timeoutMs: number): Promise<Answer> {
  const why = await tcpAttempt(host, port, timeoutMs);
  return why === undefined ? { ok: true, detail: 'connection accepted' } : { ok: false, detail: why, refused: why === 'ECONNREFUSED' };
}

const failure = (e: unknown, signal: AbortSignal, timeoutMs: number): Answer => {
  if (signal.aborted) return { ok: false, detail: `no answer within ${timeoutMs / 1000}s` };
  const code = (e as NodeJS.ErrnoException).code;
  return { ok: false, detail: code ?? (e instanceof Error ? e.message : String(e)), refused: code === 'ECONNREFUSED' };
};

async function httpGet(first: URL, extra: readonly { name: string; value: string }[], timeoutMs: number): Promise<Answer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string | string[]> = {};
  for (const { name, value } of extra) {
    const key = name.toLowerCase();
    const had = headers[key];
    headers[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  headers['user-agent'] ??= userAgent;
  // An Accept given empty removes it, as the kubelet does.
  if (headers.accept === undefined) headers.accept = '*/*';
  else if (headers.accept === '') delete headers.accept;
  headers.connection = 'close';
  let url = first;
  for (let hop = 0; ; hop++) {
    let answer: { status: number; headers: IncomingHttpHeaders };
    try {
      answer = await getOnce(url, headers, signal);
    } catch (e) {
      return failure(e, signal, timeoutMs);
    }
    const { status } = answer;
    const location = answer.headers.location;
    if (status >= 300 && status < 400 && location) {
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return { ok: true, detail: `HTTP ${status} to an unreadable location (a redirect the kubelet counts as success)` };
      }
      if (next.hostname !== first.hostname) return { ok: true, detail: `HTTP ${status} to another host (a redirect the kubelet counts as success)` };
      if (hop + 1 > maxRedirects) return { ok: false, detail: `stopped after ${maxRedirects} redirects` };
      url = next;
      continue;
    }
    if (status >= 200 && status < 400) return { ok: true, detail: `HTTP ${status}` };
    return { ok: false, detail: `HTTP ${status}` };
  }
}

function getOnce(url: URL, headers: Record<string, string | string[]>, signal: AbortSignal): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    // Throws at once on a header Node will not send (a control character in it): a failed attempt.
    const req = (https ? httpsRequest : httpRequest)(url, { method: 'GET', headers, signal, agent: false, ...(https ? { rejectUnauthorized: false } : {}) }, (res) => {
      res.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.once('error', reject);
    req.end();
  });
}

/** grpc.health.v1 HealthCheckResponse.ServingStatus, by number. */
const servingStatus = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** A HealthCheckRequest { string service = 1; } in gRPC's length-prefixed frame. */
function checkRequest(service: string): Buffer {
  const s = Buffer.from(service);
  const body = s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(body.length, 1);
  return Buffer.concat([frame, body]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The `status` field of a HealthCheckResponse frame: 0 (UNKNOWN) when absent, undefined when unreadable. */
function readStatus(frame: Buffer): number | undefined {
  if (frame.length < 5 || frame[0] !== 0) return undefined;
  const end = 5 + frame.readUInt32BE(1);
  if (end > frame.length) return undefined;
  let status = 0;
  for (let i = 5; i < end;) {
    const tag = frame[i++]!;
    const wire = tag & 7;
    let value = 0;
    if (wire === 0) {
      for (let shift = 0; i < end; shift += 7) {
        const b = frame[i++]!;
        if (shift < 28) value |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
      }
      if (tag >> 3 === 1) status = value;
    } else if (wire === 2) {
      let len = 0;
      for (let shift = 0; i < end; shift += 7) {
        const b = frame[i++]!;
        if (shift < 28) len |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
      }
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else return undefined;
  }
  return status;
}

/** The largest health answer read: a HealthCheckResponse is a few bytes. */
const maxGrpcAnswerBytes = 16 * 1024;

function grpcHealth(host: string, port: number, service: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const session = http2Connect(`http://${authority}`);
    let settled = false;
    const done = (a: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `no answer within ${timeoutMs / 1000}s` }), timeoutMs);
    session.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: e.code ?? e.message, refused: e.code === 'ECONNREFUSED' }));
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc', te: 'trailers', 'user-agent': userAgent,
    });
    let received = Buffer.alloc(0);
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    const readTrailers = (h: Record<string, unknown>): void => {
      if (typeof h['grpc-status'] === 'string') grpcStatus = h['grpc-status'];
      if (typeof h['grpc-message'] === 'string') grpcMessage = decodeURIComponent(h['grpc-message']).slice(0, 200);
    };
    req.once('response', (h) => {
      if (h[':status'] !== 200) done({ ok: false, detail: `HTTP/2 status ${String(h[':status'])}, not a gRPC answer` });
      readTrailers(h);
    });
    req.on('trailers', readTrailers);
    req.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length > maxGrpcAnswerBytes) done({ ok: false, detail: `an answer past ${maxGrpcAnswerBytes} bytes` });
    });
    req.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: e.code ?? e.message }));
    req.once('end', () => {
      if (grpcStatus !== undefined && grpcStatus !== '0') {
        const what = grpcStatus === '12' ? 'this server does not implement the grpc health protocol (grpc.health.v1.Health)' : `grpc-status ${grpcStatus}`;
        return done({ ok: false, detail: `${what}${grpcMessage ? `: ${grpcMessage}` : ''}` });
      }
      const status = readStatus(received);
      if (status === undefined) return done({ ok: false, detail: 'an unreadable health answer' });
      const name = servingStatus[status] ?? `status ${status}`;
      done({ ok: status === 1, detail: name });
    });
    req.end(checkRequest(service));
  });
}
