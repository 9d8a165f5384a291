// The one boundary for the API's data: a watch event's object or a GET's body becomes a
// typed Pod here, and nothing past this module trusts a field's type. Each field proa
// reads is checked; one of the wrong type is left out (read as unknown: not ready, not
// exited, no status) and named in a problem, which the caller logs once. Nothing here
// throws, and nothing of the input is kept but the checked fields, so a hostile
// document (nested 200,000 levels deep, a string where a list belongs) costs no more
// than its size, which the reader has already bounded (shared/limits.ts). The checked reading
// is reader.ts'; the spec's containers are read in decode-containers.ts.
import type { ContainerState, ContainerStatus, Pod, Terminated } from '../shared/pod.ts';
import { containers } from './decode-containers.ts';
import { isObj, kind, Reader, type Obj } from './reader.ts';

export interface Decoded {
  pod: Pod;
  /** `path: expected T, got U`, one per field of the wrong type. */
  problems: string[];
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
