// Which readiness probe proa runs itself for a sidecar, and where it goes: the same
// request the kubelet makes (pkg/probe/http/request.go, pkg/kubelet/prober/prober.go),
// aimed at the Pod's IP from inside the Pod. Pure: the spec and status in, a target or
// the reason there is none out.
//
// What stays the kubelet's alone: exec probes (they run inside the sidecar's own
// container), alpha fields (httpGet.protocol HTTP2, grpc.mode TLS), and a probe whose
// `host` is not the Pod's IP: the kubelet sends it from the node's network namespace, so
// a host of 127.0.0.1 there is the node's loopback, which proa cannot reach.
import { specOf, type ContainerSpec, type Pod, type ProbeSpec } from '../shared/pod.ts';

export type ProbeTarget =
  | { kind: 'http'; url: URL; headers: { name: string; value: string }[] }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'grpc'; host: string; port: number; service: string };

export interface Playable {
  /** The probe as the spec has it: its thresholds and delays. */
  spec: ProbeSpec;
  /** A startupProbe gates it: counted only once the kubelet reports the container started. */
  gatedByStartup: boolean;
}

/** Whether proa can run this container's readinessProbe, or why not (for the log and `proa check`). */
export function playable(spec: ContainerSpec | undefined): Playable | { why: string } {
  const p = spec?.readinessProbe;
  if (!p) return { why: 'no readinessProbe' };
  if (p.unplayed) return { why: `${p.unplayed}: the kubelet's probe alone` };
  return { spec: p, gatedByStartup: spec.startupProbe !== undefined };
}

/** The port a probe names: a number, or a name among the container's declared ports. */
function probePort(p: ProbeSpec, spec: ContainerSpec): number | { why: string } {
  if (typeof p.port === 'number') return p.port;
  const named = p.port === undefined ? undefined : spec.namedPorts?.[p.port];
  return named ?? { why: `port "${p.port ?? ''}" is not one of the container's named ports` };
}

/** A URL host for an address (IPv6 in brackets). */
const hostPart = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * Where the probe goes once the Pod has an IP. `why` when it cannot go there: a host that
 * is not the Pod's IP, a port that does not resolve, no IP yet (`waiting`: try again on a
 * later status).
 */
export function probeTarget(pod: Pod, name: string, p: ProbeSpec): ProbeTarget | { why: string; waiting?: true } {
  const spec = specOf(pod, name);
  if (!spec) return { why: 'not in the Pod spec' };
  const podIp = pod.status?.podIP;
  if (p.host && p.host !== podIp) {
    return podIp ? { why: `its host ${p.host} is not the Pod's IP ${podIp}: the kubelet's probe alone (it probes from the node)` } : { why: 'the Pod has no IP yet', waiting: true };
  }
  if (!podIp) return { why: 'the Pod has no IP yet', waiting: true };
  const port = probePort(p, spec);
  if (typeof port !== 'number') return port;
  if (p.handler === 'tcpSocket') return { kind: 'tcp', host: podIp, port };
  if (p.handler === 'grpc') return { kind: 'grpc', host: podIp, port, service: p.service ?? '' };
  const scheme = (p.scheme ?? 'HTTP').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { why: `scheme ${p.scheme} is neither HTTP nor HTTPS` };
  let url: URL;
  try {
    // As the kubelet's formatURL: the path may carry a query; the host and port are the probe's.
    url = new URL(p.path ?? '', `${scheme}://${hostPart(podIp)}:${port}/`);
    url.protocol = `${scheme}:`;
    url.host = `${hostPart(podIp)}:${port}`;
  } catch {
    return { why: `path "${p.path}" is not a URL path` };
  }
  return { kind: 'http', url, headers: p.headers ?? [] };
}

/** The probe as the log names it: `GET http://10.1.2.3:8080/ready`, `TCP 10.1.2.3:5432`, `gRPC 10.1.2.3:9090`. */
export function describeTarget(t: ProbeTarget): string {
  if (t.kind === 'http') return `GET ${t.url.href}`;
  const where = `${hostPart(t.host)}:${t.port}`;
  return t.kind === 'tcp' ? `TCP ${where}` : `gRPC ${where}${t.service ? ` (service "${t.service}")` : ''}`;
}
