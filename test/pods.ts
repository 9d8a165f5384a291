// Pod objects for tests: the reference fixtures, and a small builder shaped like what
// the API server returns (statuses matched by name, in no particular order).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../testbed/paths.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

export function fixture(name: string): Json {
  return JSON.parse(readFileSync(join(root, 'test', 'fixtures', name), 'utf8')) as Json;
}

export interface ContainerDef {
  name: string;
  native?: boolean;
}

/** A Pod in the Pending phase: spec as given, every container waiting (ContainerCreating). */
export function makePod(opts: {
  name: string;
  namespace?: string;
  containers: string[];
  initContainers?: ContainerDef[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  grace?: number;
  /** Give every container a readinessProbe, as a well-configured sidecar has (default true). */
  probes?: boolean;
}): Json {
  const probe = opts.probes === false ? {} : { readinessProbe: { httpGet: { path: '/ready', port: 8080 } } };
  const waiting = (name: string): Json => ({
    name, ready: false, started: false, restartCount: 0, image: `example/${name}:1`, imageID: '',
    state: { waiting: { reason: 'ContainerCreating' } }, lastState: {},
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: opts.name, namespace: opts.namespace ?? 'default', labels: { 'job-name': 'test' } },
    spec: {
      restartPolicy: opts.restartPolicy ?? 'Never',
      terminationGracePeriodSeconds: opts.grace ?? 30,
      serviceAccountName: 'proa',
      containers: opts.containers.map((name) => ({ name, image: `example/${name}:1`, ...probe })),
      ...(opts.initContainers ? {
        initContainers: opts.initContainers.map((c) => ({ name: c.name, image: `example/${c.name}:1`, ...(c.native ? { restartPolicy: 'Always', ...probe } : {}) })),
      } : {}),
    },
    status: {
      phase: 'Pending',
      // Reversed: the API server does not keep spec order.
      containerStatuses: [...opts.containers].reverse().map(waiting),
      ...(opts.initContainers ? { initContainerStatuses: opts.initContainers.map((c) => waiting(c.name)) } : {}),
    },
  };
}

function find(pod: Json, name: string): Json {
  const all = [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? [])];
  const s = all.find((c: Json) => c.name === name);
  if (!s) throw new Error(`no status for ${name}`);
  return s;
}

let counter = 0;
const containerId = (): string => `containerd://${(++counter).toString(16).padStart(64, '0')}`;
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function running(pod: Json, name: string, ready: boolean): void {
  const s = find(pod, name);
  s.state = { running: { startedAt: now() } };
  s.started = true;
  s.ready = ready;
  s.containerID ??= containerId();
  pod.status.phase = 'Running';
}

export function terminated(pod: Json, name: string, exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error'): void {
  const s = find(pod, name);
  s.state = { terminated: { exitCode, reason, startedAt: now(), finishedAt: now(), containerID: s.containerID ?? containerId() } };
  s.ready = false;
  s.started = false;
}

/** The kubelet restarted it: the termination moves to lastState, restartCount goes up. */
export function restarted(pod: Json, name: string, exitCode: number): void {
  const s = find(pod, name);
  s.lastState = { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: now(), containerID: s.containerID } };
  s.restartCount += 1;
  s.containerID = containerId();
  s.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${name}` } };
  s.ready = false;
  s.started = false;
}
