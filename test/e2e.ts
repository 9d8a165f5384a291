// Helpers for the end-to-end suite: simulated Pods whose main container runs the built
// binary, sidecars from examples/sidecar.mjs, and assertions over the timeline.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, type TestContext } from 'node:test';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { binary, node, root, tempDir } from '../testbed/paths.ts';
import { Simulator, type SimOptions, type TimelineEvent } from '../testbed/simulator/simulator.ts';
import { realAccess, type Backend } from '../testbed/simulator/kubelet-api.ts';
import { render } from '../testbed/simulator/timeline.ts';

/** The API back ends the end-to-end scenarios run on: the fake always, the real one when test/run.ts started it. */
export const backends: Backend[] = realAccess() ? ['fake', 'real'] : ['fake'];

/** An end-to-end scenario, on every back end. A simulated Pod that goes wrong never finishes: bound each. */
export function scenario(name: string, fn: (t: TestContext, api: Backend) => Promise<void>): void {
  for (const api of backends) void base(`${name} [${api} API server]`, { timeout: 60_000 }, (t) => fn(t, api));
}

/** A readiness probe that never passes. */
export const neverReady = { readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } };

export { freePort } from '../testbed/ports.ts';

const downward = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

/** The flag that has proa GET the shutdown endpoint of an httpSidecar on `port`. */
/** A copy of system binary `from` under the process name `name`, for --kill to find by name. */
export function namedCopy(from: string, name: string): string {
  const path = join(tempDir(), name);
  copyFileSync(from, path);
  chmodSync(path, 0o755);
  return path;
}

export const shutdownFlag = (port: number): string => `-g=http://127.0.0.1:${port}/shutdown`;

export function proaContainer(flags: string[], command: string[], name = 'main'): Json {
  return { name, image: 'app', command: [binary, ...flags, '--', ...command], env: downward };
}

/** An HTTP sidecar that is ready `startup` seconds after it starts and exits 0 on GET /shutdown. */
export function httpSidecar(name: string, port: number, startup = 0.2, extra: Json = {}): Json {
  return {
    name, image: 'node:22', command: [node, join(root, 'examples', 'sidecar.mjs')],
    env: [{ name: 'PORT', value: String(port) }, { name: 'STARTUP_SECONDS', value: String(startup) }],
    readinessProbe: { httpGet: { port }, periodSeconds: 1 },
    ...extra,
  };
}

/** A Pod running as the README's service account `proa` (its Role lets proa read Pods). */
export function podManifest(name: string, spec: Json): Json {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'e2e' },
    spec: { terminationGracePeriodSeconds: 5, restartPolicy: 'Never', serviceAccountName: 'proa', ...spec },
  };
}

export async function simulate(t: TestContext, api: Backend, manifest: Json | string, opts: SimOptions = {}): Promise<Simulator> {
  const sim = await Simulator.start(manifest, { ...opts, api });
  t.after(async () => {
    if (process.env.PROA_TEST_VERBOSE) for (const e of sim.timeline) process.stderr.write(`${render(e)}\n`);
    await sim.stop();
  });
  return sim;
}

export const isReady = (container: string) => (e: TimelineEvent): boolean =>
  e.type === 'status' && e.container === container && e.ready === true;

/** A line a container wrote (stdout or stderr) that starts with, or contains, `text`. */
export const isLine = (container: string, text: string, where: 'start' | 'anywhere' = 'start') => (e: TimelineEvent): boolean =>
  e.type === 'log' && e.container === container && (where === 'start' ? String(e.line).startsWith(text) : String(e.line).includes(text));

export function proaLog(sim: Simulator, msg: string | RegExp, container = 'main'): TimelineEvent | undefined {
  return sim.timeline.find((e) => {
    if (e.type !== 'log' || e.container !== container || e.stream !== 'stderr') return false;
    try {
      const m = (JSON.parse(String(e.line)) as { msg: string }).msg;
      return typeof msg === 'string' ? m === msg : msg.test(m);
    } catch {
      return false;
    }
  });
}

/** The line each sidecar of the suites (httpSidecar, the stand-ins) writes once it serves. */
export const servingLine = /^(Starting the sidecar on port|[\w-]+: listening on |gRPC health on port )/;

/**
 * The command started after every awaited sidecar was ready: the kubelet said so, or
 * (proa's own probe, ahead of the kubelet) the sidecar was serving by then (its
 * `servingLine`) and proa said its probe had passed.
 */
export function assertStartedAfterReady(sim: Simulator, sidecars: string[]): void {
  const started = proaLog(sim, 'command started');
  assert.ok(started, 'the command started');
  for (const s of sidecars) {
    const ready = sim.timeline.filter(isReady(s)).find((e) => e.t <= started.t);
    if (ready) continue;
    const serving = sim.timeline.find((e) => e.type === 'log' && e.container === s && servingLine.test(String(e.line)) && e.t <= started.t);
    const probed = proaLog(sim, new RegExp(`^sidecar ${s}: ready by proa's probe `));
    assert.ok(serving && probed && probed.t <= started.t && serving.t <= probed.t, `${s} was ready before the command started`);
  }
}

export function shutdownReceived(sim: Simulator, container: string): boolean {
  return sim.timeline.some((e) => e.type === 'log' && e.container === container && e.line === 'Received /shutdown; shutting down.');
}

export function pidOf(sim: Simulator, container: string): number {
  const start = [...sim.timeline].reverse().find((e) => e.type === 'container-start' && e.container === container);
  return Number(start?.pid);
}
