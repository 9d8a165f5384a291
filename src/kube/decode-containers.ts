// The containers of a Pod's spec, read through the boundary's Reader (decode.ts): names,
// restart rules, probes, ports, environment, the termination log's path; each bounded as
// the API bounds it (shared/limits.ts).
import { maxProbeHeaders, maxProbeTextChars, maxRestartRules, maxRuleCodes } from '../shared/limits.ts';
import type { ContainerSpec, ProbeSpec, RestartRule } from '../shared/pod.ts';
import { isObj, kind, type Obj, type Reader } from './reader.ts';

/**
 * A container's restartPolicyRules, as far as they can be read: the API allows 20 rules of
 * 255 codes each, and so does proa; a rule without a readable action, operator or codes
 * is left out and named (the kubelet would skip it too: it matches no exit code).
 */
function restartRules(r: Reader, c: Obj, at: string): RestartRule[] | undefined {
  const list = r.list(c, 'restartPolicyRules', at);
  if (!list) return undefined;
  if (list.length > maxRestartRules) r.problems.push(`${at}.restartPolicyRules: ${list.length} rules, more than the API's ${maxRestartRules}; the rest are left out`);
  return list.slice(0, maxRestartRules).flatMap(({ item, at: where }) => {
    const action = r.str(item, 'action', where);
    const codes = r.obj(item, 'exitCodes', where);
    const operator = r.str(codes, 'operator', `${where}.exitCodes`);
    const raw = codes?.values;
    const values = Array.isArray(raw) && raw.length <= maxRuleCodes && raw.every((v) => typeof v === 'number' && Number.isSafeInteger(v)) ? raw as number[] : undefined;
    if (raw !== undefined && values === undefined) r.problems.push(`${where}.exitCodes.values: expected at most ${maxRuleCodes} integers, got ${kind(raw)}`);
    if (action === undefined || operator === undefined || values === undefined) {
      r.problems.push(`${where}: a rule without its action, operator and exit codes is left out`);
      return [];
    }
    return [{ action, operator, values }];
  });
}

/**
 * A probe as proa may run it itself (probes.ts). Anything proa cannot play as the kubelet
 * would (an exec handler, an alpha field, a text past maxProbeTextChars, a port of the
 * wrong kind) leaves `unplayed` saying why: the kubelet's word alone decides then.
 */
function probeSpec(r: Reader, c: Obj, key: string, at: string): ProbeSpec | undefined {
  const p = r.obj(c, key, at);
  if (!p) return undefined;
  const where = `${at}.${key}`;
  const times = {
    initialDelaySeconds: r.int(p, 'initialDelaySeconds', where),
    timeoutSeconds: r.int(p, 'timeoutSeconds', where),
    successThreshold: r.int(p, 'successThreshold', where),
  };
  const long = (v: string | undefined): boolean => v !== undefined && v.length > maxProbeTextChars;
  const port = (h: Obj, path: string): number | string | undefined => {
    const v = h.port;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    if (typeof v === 'string' && v.length > 0 && v.length <= 15) return v;
    r.problems.push(`${path}.port: expected a port number or name, got ${kind(v)}`);
    return undefined;
  };
  const http = r.obj(p, 'httpGet', where);
  if (http) {
    const path = `${where}.httpGet`;
    const headers = r.list(http, 'httpHeaders', path)?.flatMap(({ item, at: h }) => {
      const name = r.str(item, 'name', h);
      const value = r.str(item, 'value', h) ?? '';
      return name === undefined ? [] : [{ name, value }];
    });
    const spec: ProbeSpec = { handler: 'httpGet', ...times, host: r.str(http, 'host', path), port: port(http, path), path: r.str(http, 'path', path),
      scheme: r.str(http, 'scheme', path), headers };
    const protocol = r.str(http, 'protocol', path);
    if (protocol !== undefined && protocol !== 'HTTP1') spec.unplayed = `httpGet.protocol ${protocol.slice(0, 16)} (alpha)`;
    else if ((headers?.length ?? 0) > maxProbeHeaders) spec.unplayed = `more than ${maxProbeHeaders} httpHeaders`;
    else if ([spec.host, spec.path, ...(headers ?? []).flatMap((h) => [h.name, h.value])].some(long)) spec.unplayed = `a text longer than ${maxProbeTextChars} characters`;
    else if (spec.port === undefined) spec.unplayed = 'no readable port';
    return spec;
  }
  const tcp = r.obj(p, 'tcpSocket', where);
  if (tcp) {
    const spec: ProbeSpec = { handler: 'tcpSocket', ...times, host: r.str(tcp, 'host', `${where}.tcpSocket`), port: port(tcp, `${where}.tcpSocket`) };
    if (long(spec.host)) spec.unplayed = `a host longer than ${maxProbeTextChars} characters`;
    else if (spec.port === undefined) spec.unplayed = 'no readable port';
    return spec;
  }
  const grpc = r.obj(p, 'grpc', where);
  if (grpc) {
    const path = `${where}.grpc`;
    const p2 = port(grpc, path);
    const spec: ProbeSpec = { handler: 'grpc', ...times, port: typeof p2 === 'number' ? p2 : undefined, service: r.str(grpc, 'service', path) };
    const mode = r.str(grpc, 'mode', path);
    if (mode !== undefined && mode !== 'Plaintext') spec.unplayed = `grpc.mode ${mode.slice(0, 16)} (alpha)`;
    else if (long(spec.service)) spec.unplayed = `a service name longer than ${maxProbeTextChars} characters`;
    else if (spec.port === undefined) spec.unplayed = 'no readable port';
    return spec;
  }
  if (r.obj(p, 'exec', where)) return { handler: 'exec', ...times, unplayed: 'an exec probe runs inside the sidecar' };
  return { handler: 'none', ...times, unplayed: 'no handler proa knows' };
}

/** A container in the spec; one without a string name is not a container proa can use. */
function container(r: Reader, c: Obj, at: string): ContainerSpec | undefined {
  const name = r.str(c, 'name', at);
  if (name === undefined) {
    r.problems.push(`${at}.name: a container without a name is left out`);
    return undefined;
  }
  const env = r.list(c, 'env', at)?.flatMap(({ item, at: e }) => {
    const n = r.str(item, 'name', e);
    return n === undefined ? [] : [{ name: n, value: r.str(item, 'value', e) }];
  });
  const portIn = (v: unknown): number[] => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? [v] : []);
  const probed = (key: string): number[] => {
    const p = c[key];
    if (!isObj(p)) return [];
    const handler = isObj(p.httpGet) ? p.httpGet : isObj(p.tcpSocket) ? p.tcpSocket : undefined;
    return handler ? portIn(handler.port) : [];
  };
  const declared = Array.isArray(c.ports) ? c.ports.flatMap((p) => (isObj(p) ? portIn(p.containerPort) : [])) : [];
  const namedPorts: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const p of Array.isArray(c.ports) ? c.ports : []) {
    if (isObj(p) && typeof p.name === 'string' && !(p.name in namedPorts) && portIn(p.containerPort).length > 0) namedPorts[p.name] = p.containerPort as number;
  }
  const ports = [...new Set([...declared, ...probed('readinessProbe'), ...probed('startupProbe'), ...probed('livenessProbe')])];
  return {
    name,
    restartPolicy: r.str(c, 'restartPolicy', at),
    restartPolicyRules: restartRules(r, c, at),
    readinessProbe: probeSpec(r, c, 'readinessProbe', at),
    startupProbe: probeSpec(r, c, 'startupProbe', at),
    image: r.str(c, 'image', at),
    command: r.strings(c, 'command', at),
    args: r.strings(c, 'args', at),
    env,
    ports,
    namedPorts,
    terminationMessagePath: absolutePath(r.str(c, 'terminationMessagePath', at)),
  };
}

/** An absolute path without NUL, as the API validates terminationMessagePath; anything else is left out. */
function absolutePath(p: string | undefined): string | undefined {
  return p !== undefined && p.startsWith('/') && !p.includes('\0') && p.length <= 4096 ? p : undefined;
}

export function containers(r: Reader, spec: Obj | undefined, key: string): ContainerSpec[] | undefined {
  return r.list(spec, key, 'spec')?.flatMap(({ item, at }) => container(r, item, at) ?? []);
}
