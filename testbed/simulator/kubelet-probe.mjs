// One probe as the kubelet's prober makes it (pkg/probe/http, tcp and grpc in v1.37),
// written apart from proa's own (src/probes/handlers.ts) so that the simulator holds proa
// to the kubelet and not to itself. Plain JavaScript: the Pod network's agent
// (pod-network-agent.mjs) runs it inside the Pod's namespace with no loader.
// - httpGet: HTTP or HTTPS (no certificate check), the probe's httpHeaders, one
//   connection per probe (DisableKeepAlives); a redirect to the same host is followed, at
//   most 10 (then a failure); one to another host, or a 3xx without Location, ends as
//   success ("Probe terminated redirects"); 200-399 passes.
// - tcpSocket: a connection accepted.
// - grpc: grpc.health.v1.Health/Check over cleartext HTTP/2; SERVING passes.
// The whole probe, redirects included, is bounded by timeoutMs.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';

/** @param {{kind: string, host: string, port: number, path?: string, scheme?: string, headers?: {name: string, value: string}[], service?: string, timeoutMs: number}} p */
export function kubeletProbe(p) {
  if (p.kind === 'tcp') return tcp(p);
  if (p.kind === 'grpc') return grpc(p);
  return http(p);
}

function tcp(p) {
  return new Promise((resolve) => {
    const s = connect({ host: p.host, port: p.port, timeout: p.timeoutMs });
    s.on('connect', () => { s.destroy(); resolve({ pass: true, detail: 'connected' }); });
    s.on('timeout', () => { s.destroy(); resolve({ pass: false, detail: 'timeout' }); });
    s.on('error', (e) => resolve({ pass: false, detail: e.code ?? e.message }));
  });
}

async function http(p) {
  const deadline = AbortSignal.timeout(p.timeoutMs);
  const headers = { 'User-Agent': 'kube-probe/1.37', Accept: '*/*', Connection: 'close' };
  for (const h of p.headers ?? []) headers[h.name] = h.value;
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  let url = new URL(`${(p.scheme ?? 'HTTP').toLowerCase()}://${host}:${p.port}`);
  url = new URL(p.path || '/', url);
  const first = url.hostname;
  for (let hops = 0; ; hops++) {
    let res;
    try {
      res = await once(url, headers, deadline);
    } catch (e) {
      return { pass: false, detail: deadline.aborted ? 'timeout' : (e.code ?? e.message) };
    }
    const s = res.status;
    if (s >= 300 && s < 400 && res.location) {
      const next = new URL(res.location, url);
      if (next.hostname !== first) return { pass: true, detail: `HTTP ${s} (redirect to another host)` };
      if (hops >= 10) return { pass: false, detail: 'stopped after 10 redirects' };
      url = next;
      continue;
    }
    return { pass: s >= 200 && s < 400, detail: `HTTP ${s}` };
  }
}

function once(url, headers, signal) {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, { headers, signal, agent: false, rejectUnauthorized: false }, (res) => {
      res.destroy();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

function grpc(p) {
  return new Promise((resolve) => {
    const host = p.host.includes(':') ? `[${p.host}]` : p.host;
    const session = http2Connect(`http://${host}:${p.port}`);
    let settled = false;
    const done = (pass, detail) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve({ pass, detail });
    };
    const timer = setTimeout(() => done(false, 'timeout'), p.timeoutMs);
    session.on('error', (e) => done(false, e.code ?? e.message));
    const service = Buffer.from(p.service ?? '');
    const message = service.length ? Buffer.concat([Buffer.from([0x0a, service.length]), service]) : Buffer.alloc(0);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks = [];
    let status = '0';
    req.on('response', (h) => { if (h['grpc-status'] !== undefined) status = h['grpc-status']; });
    req.on('trailers', (h) => { if (h['grpc-status'] !== undefined) status = h['grpc-status']; });
    req.on('data', (c) => chunks.push(c));
    req.on('error', (e) => done(false, e.code ?? e.message));
    req.on('end', () => {
      if (status !== '0') return done(false, `grpc-status ${status}`);
      const body = Buffer.concat(chunks).subarray(5);
      // HealthCheckResponse { status = 1 }: tag 0x08 then the value; SERVING is 1.
      const serving = body.length >= 2 && body[0] === 0x08 && body[1] === 1;
      done(serving, serving ? 'SERVING' : 'not SERVING');
    });
    req.end(Buffer.concat([prefix, message]));
  });
}
