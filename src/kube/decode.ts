// The one boundary for the API's data: a watch event's object or a GET's body becomes a
// typed Pod here, and nothing past this module trusts a field's type. Each field proa
// reads is checked; one of the wrong type is left out (read as unknown: not ready, not
// exited, no status) and named in a problem, which the caller logs once. Nothing here
// throws, and nothing of the input is kept but the checked fields, so a hostile
// document (nested 200,000 levels deep, a string where a list belongs) costs no more
// than its size, which the reader has already bounded (limits.ts).
import { maxLoggedStringChars, maxProbeHeaders, maxProbeTextChars, maxRestartRules, maxRuleCodes } from '../shared/limits.ts';
import type { ContainerSpec, ContainerState, ContainerStatus, Pod, ProbeSpec, Terminated } from '../shared/pod.ts';
import type { RestartRule } from '../shared/pod.ts';

export interface Decoded {
  pod: Pod;
  /** `path: expected T, got U`, one per field of the wrong type. */
  problems: string[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v}`;
}

class Reader {
  readonly problems: string[] = [];

  #wrong(path: string, expected: string, v: unknown): undefined {
    this.problems.push(`${path}: expected ${expected}, got ${kind(v)}`);
    return undefined;
  }

  obj(o: Obj | undefined, key: string, path: string): Obj | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return isObj(v) ? v : this.#wrong(`${path}.${key}`, 'an object', v);
  }

  str(o: Obj | undefined, key: string, path: string, cut = false): string | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return this.#wrong(`${path}.${key}`, 'a string', v);
    return cut && v.length > maxLoggedStringChars ? `${v.slice(0, maxLoggedStringChars)}... (${v.length} characters)` : v;
  }

  bool(o: Obj | undefined, key: string, path: string): boolean | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'boolean' ? v : this.#wrong(`${path}.${key}`, 'a boolean', v);
  }

  int(o: Obj | undefined, key: string, path: string): number | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : this.#wrong(`${path}.${key}`, 'an integer', v);
  }

  /** A list of objects; an element that is not one is left out and named. */
  list(o: Obj | undefined, key: string, path: string): { item: Obj; at: string }[] | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return this.#wrong(`${path}.${key}`, 'an array', v);
    const out: { item: Obj; at: string }[] = [];
    v.forEach((item, i) => {
      const name = isObj(item) && typeof item.name === 'string' ? item.name.slice(0, 64) : String(i);
      if (isObj(item)) out.push({ item, at: `${path}.${key}[${name}]` });
      else this.#wrong(`${path}.${key}[${i}]`, 'an object', item);
    });
    return out;
  }

  strings(o: Obj | undefined, key: string, path: string): string[] | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return this.#wrong(`${path}.${key}`, 'an array of strings', v);
    return v as string[];
  }

  stringMap(o: Obj | undefined, key: string, path: string): Record<string, string> | undefined {
    const m = this.obj(o, key, path);
    if (!m) return undefined;
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'string') out[k] = v;
      else this.#wrong(`${path}.${key}[${k}]`, 'a string', v);
    }
    return out;
  }
}

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

function containers(r: Reader, spec: Obj | undefined, key: string): ContainerSpec[] | undefined {
  return r.list(spec, key, 'spec')?.flatMap(({ item, at }) => container(r, item, at) ?? []);
}

function terminated(r: Reader, t: Obj | undefined, at: string): Terminated | undefined {
  if (!t) return undefined;
  const exitCode = r.int(t, 'exitCode', at);
  // A termination without its exit code cannot be judged: unknown, not exited.
  if (exitCode === undefined) {
    if (t.exitCode === undefined) r.problems.push(`${at}.exitCode: missing`);
    return undefined;
  }
  return {
    exitCode,
    signal: r.int(t, 'signal', at),
    reason: r.str(t, 'reason', at, true),
    finishedAt: r.str(t, 'finishedAt', at),
    containerID: r.str(t, 'containerID', at),
  };
}

function state(r: Reader, s: Obj | undefined, at: string): ContainerState | undefined {
  if (!s) return undefined;
  const waiting = r.obj(s, 'waiting', at);
  const running = r.obj(s, 'running', at);
  return {
    waiting: waiting && { reason: r.str(waiting, 'reason', `${at}.waiting`, true), message: r.str(waiting, 'message', `${at}.waiting`, true) },
    running: running && { startedAt: r.str(running, 'startedAt', `${at}.running`) },
    terminated: terminated(r, r.obj(s, 'terminated', at), `${at}.terminated`),
  };
}

function statuses(r: Reader, status: Obj | undefined, key: string): ContainerStatus[] | undefined {
  return r.list(status, key, 'status')?.flatMap(({ item, at }) => {
    const name = r.str(item, 'name', at);
    if (name === undefined) return [];
    return [{
      name,
      ready: r.bool(item, 'ready', at),
      started: r.bool(item, 'started', at),
      restartCount: r.int(item, 'restartCount', at),
      containerID: r.str(item, 'containerID', at),
      state: state(r, r.obj(item, 'state', at), `${at}.state`),
      lastState: state(r, r.obj(item, 'lastState', at), `${at}.lastState`),
    }];
  });
}

/** Any JSON value into a Pod and the problems found; never throws. */
export function decodePod(value: unknown): Decoded {
  const r = new Reader();
  if (!isObj(value)) {
    r.problems.push(`the Pod: expected an object, got ${kind(value)}`);
    return { pod: {}, problems: r.problems };
  }
  const metadata = r.obj(value, 'metadata', 'the Pod');
  const spec = r.obj(value, 'spec', 'the Pod');
  const status = r.obj(value, 'status', 'the Pod');
  const pod: Pod = {
    metadata: metadata && {
      name: r.str(metadata, 'name', 'metadata'),
      namespace: r.str(metadata, 'namespace', 'metadata'),
      uid: r.str(metadata, 'uid', 'metadata'),
      resourceVersion: r.str(metadata, 'resourceVersion', 'metadata'),
      deletionTimestamp: r.str(metadata, 'deletionTimestamp', 'metadata'),
      annotations: r.stringMap(metadata, 'annotations', 'metadata'),
    },
    spec: spec && {
      containers: containers(r, spec, 'containers'),
      initContainers: containers(r, spec, 'initContainers'),
      restartPolicy: r.str(spec, 'restartPolicy', 'spec'),
      terminationGracePeriodSeconds: r.int(spec, 'terminationGracePeriodSeconds', 'spec'),
      hostPID: r.bool(spec, 'hostPID', 'spec'),
      hostNetwork: r.bool(spec, 'hostNetwork', 'spec'),
      shareProcessNamespace: r.bool(spec, 'shareProcessNamespace', 'spec'),
    },
    status: status && {
      phase: r.str(status, 'phase', 'status'),
      podIP: r.str(status, 'podIP', 'status', true),
      containerStatuses: statuses(r, status, 'containerStatuses'),
      initContainerStatuses: statuses(r, status, 'initContainerStatuses'),
      conditions: r.list(status, 'conditions', 'status')?.flatMap(({ item, at }) => {
        const type = r.str(item, 'type', at);
        return type === undefined ? [] : [{ type, status: r.str(item, 'status', at) }];
      }),
    },
  };
  return { pod, problems: r.problems };
}

/** A probe's failure as the kubelet reported it (an Unhealthy Event), for one container. */
export interface ProbeFailure {
  /** The container, from the Event's fieldPath (`spec.containers{NAME}`). */
  container: string;
  message: string;
  count: number;
  /** RFC 3339, as the API gives it: the latest of lastTimestamp, eventTime, firstTimestamp. */
  at: string;
}

/** An EventList's Unhealthy events on containers, the wrong-typed ones left out (no problems kept: a diagnostic only). */
export function decodeProbeFailures(value: unknown): ProbeFailure[] {
  const r = new Reader();
  const items = isObj(value) ? value.items : undefined;
  if (!Array.isArray(items)) return [];
  return items.flatMap((item): ProbeFailure[] => {
    if (!isObj(item) || r.str(item, 'reason', 'event') !== 'Unhealthy') return [];
    const container = r.str(r.obj(item, 'involvedObject', 'event'), 'fieldPath', 'event.involvedObject')?.match(/^spec\.(?:initContainers|containers)\{([^}]+)\}$/)?.[1];
    const message = r.str(item, 'message', 'event', true);
    if (!container || !message) return [];
    const count = typeof item.count === 'number' && Number.isFinite(item.count) ? item.count : 1;
    const at = [r.str(item, 'lastTimestamp', 'event'), r.str(item, 'eventTime', 'event'), r.str(item, 'firstTimestamp', 'event')].find((t) => t) ?? '';
    return [{ container, message, count, at }];
  });
}
