// The kubelet's probes, as the simulator makes them (kubelet-probe.mjs): httpGet, tcpSocket and grpc to the probe's
// `host`, else the Pod's IP (from inside the Pod's own network namespace when it has
// one, where a sidecar listening on 127.0.0.1 alone is not reachable at the Pod's IP, as
// in a cluster; without one, 127.0.0.1), exec inside the container's environment. One probe, one result: thresholds and periods are the
// simulator's.
import { spawn } from 'node:child_process';
import type { Json } from '../api/fake-apiserver.ts';
import type { PodNetwork, ProbeRequest, ProbeResult } from './pod-network.ts';
import { kubeletProbe } from './kubelet-probe.mjs';

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string; host?: string };
  grpc?: { port: number; service?: string };
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
  const endpoint = probe.httpGet ?? probe.tcpSocket ?? probe.grpc;
  const host = (endpoint && 'host' in endpoint ? endpoint.host : undefined) || target.net?.podIp || '127.0.0.1';
  const address = endpoint ? `${host}:${port(endpoint.port)}` : '';
  const why = detail === 'ECONNREFUSED' ? `dial tcp ${address}: connect: connection refused`
    : detail === 'timeout' ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)' : detail;
  if (probe.httpGet) {
    const status = detail.match(/^HTTP (\d+)$/);
    const url = `${probe.httpGet.scheme === 'HTTPS' ? 'https' : 'http'}://${address}${probe.httpGet.path ?? '/'}`;
    return `${kind} probe failed: ${status ? `HTTP probe failed with statuscode: ${status[1]}` : `Get "${url}": ${why}`}`;
  }
  if (probe.tcpSocket) return `${kind} probe failed: ${why}`;
  if (probe.grpc) return `${kind} probe failed: ${detail === 'timeout' ? `timeout: failed to connect service "${address}" within ${probe.timeoutSeconds ?? 1}s` : `error: ${detail}`}`;
  return `${kind} probe failed: ${detail}`;
}

export function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const port = (p: number | string): number => typeof p === 'number' ? p
    : Number(((target.spec.ports ?? []) as Json[]).find((x) => x.name === p)?.containerPort ?? p);
  // Without a namespace of its own the Pod's IP is the host's loopback.
  const podIp = target.net?.podIp ?? '127.0.0.1';
  let request: ProbeRequest | undefined;
  if (probe.httpGet) {
    const g = probe.httpGet;
    request = { kind: 'http', host: g.host || podIp, port: port(g.port), path: g.path ?? '/', scheme: g.scheme, headers: g.httpHeaders, timeoutMs };
  } else if (probe.tcpSocket) {
    request = { kind: 'tcp', host: probe.tcpSocket.host || podIp, port: port(probe.tcpSocket.port), timeoutMs };
  } else if (probe.grpc) {
    request = { kind: 'grpc', host: podIp, port: probe.grpc.port, service: probe.grpc.service, timeoutMs };
  }
  if (request) return target.net ? target.net.probe(request) : kubeletProbe(request);
  if (probe.exec) {
    const argv = [...(target.net?.enter() ?? []), ...probe.exec.command];
    return new Promise((resolve) => {
      const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: timeoutMs, env: target.env });
      p.on('error', (e) => resolve({ pass: false, detail: e.message }));
      p.on('exit', (code) => resolve({ pass: code === 0, detail: `exit ${code}` }));
    });
  }
  return Promise.resolve({ pass: false, detail: 'no handler' });
}
