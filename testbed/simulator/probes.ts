// The kubelet's probes, as the simulator makes them: httpGet and tcpSocket to the probe's
// `host`, else the Pod's IP (from inside the Pod's own network namespace when it has
// one, where a sidecar listening on 127.0.0.1 alone is not reachable at the Pod's IP, as
// in a cluster; without one, 127.0.0.1), exec inside the container's environment. One probe, one result: thresholds and periods are the
// simulator's.
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import type { Json } from '../api/fake-apiserver.ts';
import type { PodNetwork, ProbeResult } from './pod-network.ts';

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string };
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ProbeTarget {
  /** The container's spec: named ports resolve through its `ports`. */
  spec: Json;
  /** The environment an exec probe runs with. */
  env: Record<string, string>;
  /** The Pod's own network namespace, if it has one. */
  net?: PodNetwork;
}

/**
 * What the kubelet's Unhealthy event says of a failed probe (pkg/probe/http and tcp's
 * messages): the request it made and how it failed.
 */
export function failureMessage(probe: Probe, which: 'startup' | 'readiness', target: ProbeTarget, detail: string): string {
  const kind = which === 'startup' ? 'Startup' : 'Readiness';
  const port = (p: number | string): number => typeof p === 'number' ? p
    : Number(((target.spec.ports ?? []) as Json[]).find((x) => x.name === p)?.containerPort ?? p);
  const endpoint = probe.httpGet ?? probe.tcpSocket;
  const host = endpoint?.host || target.net?.podIp || '127.0.0.1';
  const address = endpoint ? `${host}:${port(endpoint.port)}` : '';
  const why = detail === 'ECONNREFUSED' ? `dial tcp ${address}: connect: connection refused`
    : detail === 'timeout' ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)' : detail;
  if (probe.httpGet) {
    const status = detail.match(/^HTTP (\d+)$/);
    const url = `${probe.httpGet.scheme === 'HTTPS' ? 'https' : 'http'}://${address}${probe.httpGet.path ?? '/'}`;
    return `${kind} probe failed: ${status ? `HTTP probe failed with statuscode: ${status[1]}` : `Get "${url}": ${why}`}`;
  }
  if (probe.tcpSocket) return `${kind} probe failed: ${why}`;
  return `${kind} probe failed: ${detail}`;
}

export function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeout = (probe.timeoutSeconds ?? 1) * 1000;
  const port = (p: number | string): number => typeof p === 'number' ? p
    : Number(((target.spec.ports ?? []) as Json[]).find((x) => x.name === p)?.containerPort ?? p);
  if (probe.httpGet) {
    const g = probe.httpGet;
    if (target.net) return target.net.probe('http', g.host || target.net.podIp, port(g.port), g.path ?? '/', timeout);
    return new Promise((resolve) => {
      // One connection per probe, closed after it, as the kubelet's prober does
      // (pkg/probe/http: DisableKeepAlives): Node's default agent would keep it open, and a
      // sidecar that closes its server on shutdown would then wait for the probes' socket.
      const req = httpGet({ host: g.host ?? '127.0.0.1', port: port(g.port), path: g.path ?? '/', timeout, agent: false, headers: { 'User-Agent': 'kube-probe/1.37', Connection: 'close' } }, (res) => {
        res.resume();
        const s = res.statusCode ?? 0;
        resolve({ pass: s >= 200 && s < 400, detail: `HTTP ${s}` });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ pass: false, detail: e.code ?? e.message }));
    });
  }
  if (probe.tcpSocket) {
    const t = probe.tcpSocket;
    if (target.net) return target.net.probe('tcp', t.host || target.net.podIp, port(t.port), '', timeout);
    return new Promise((resolve) => {
      const s = connect({ host: t.host ?? '127.0.0.1', port: port(t.port), timeout });
      s.on('connect', () => { s.destroy(); resolve({ pass: true, detail: 'connected' }); });
      s.on('timeout', () => { s.destroy(); resolve({ pass: false, detail: 'timeout' }); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve({ pass: false, detail: e.code ?? e.message }));
    });
  }
  if (probe.exec) {
    const argv = [...(target.net?.enter() ?? []), ...probe.exec.command];
    return new Promise((resolve) => {
      const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout, env: target.env });
      p.on('error', (e) => resolve({ pass: false, detail: e.message }));
      p.on('exit', (code) => resolve({ pass: code === 0, detail: `exit ${code}` }));
    });
  }
  return Promise.resolve({ pass: false, detail: 'no handler' });
}
