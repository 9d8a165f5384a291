// The pure rules over Pod JSON, on the reference fixtures and built Pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, type Plan } from '../src/pod/plan.ts';
import { readiness, describe, exits, exitBaseline, gracePeriodMs, isDeleting, staleView, finishedForGood } from '../src/pod/status.ts';
import { restartAfter } from '../src/pod/restarts.ts';
import type { Pod } from '../src/shared/pod.ts';
import { containerFromMountinfo } from '../src/kube/config.ts';
import { fixture, makePod, running, terminated, restarted } from './pods.ts';

const none = { waitFor: [], ignore: [] };

function planOf(pod: Pod, input: Partial<Parameters<typeof plan>[1]> = {}): Plan {
  const p = plan(pod, { ...none, ...input });
  if ('error' in p) assert.fail(p.error);
  return p;
}

test('restart rules: the Pod\'s policy; a container\'s own policy and its rules, first match wins (the kubelet\'s ContainerShouldRestart)', () => {
  const withMain = (podPolicy: string | undefined, main: Record<string, unknown>): Pod =>
    ({ spec: { ...(podPolicy ? { restartPolicy: podPolicy } : {}), containers: [{ name: 'main', ...main }, { name: 'proxy' }] } }) as Pod;
  const act = (pod: Pod, code: number, name = 'main'): string => restartAfter(pod, name, code).action;
  // The Pod's policy alone (absent: Always).
  assert.equal(act(withMain(undefined, {}), 0), 'restart');
  assert.equal(act(withMain('OnFailure', {}), 0), 'none');
  assert.equal(act(withMain('OnFailure', {}), 143), 'restart');
  assert.equal(act(withMain('Never', {}), 1), 'none');
  // The container's own policy overrides the Pod's.
  assert.equal(act(withMain('Never', { restartPolicy: 'Always' }), 0), 'restart');
  assert.equal(act(withMain('OnFailure', { restartPolicy: 'Never' }), 1), 'none');
  // Rules: first match wins; no match falls back to the container's policy.
  const rules = { restartPolicy: 'Never', restartPolicyRules: [
    { action: 'Restart', operator: 'In', values: [42] },
    { action: 'RestartAllContainers', operator: 'In', values: [42, 43] },
    { action: 'Restart', operator: 'NotIn', values: [0, 1] },
  ] };
  const pod = withMain('Never', rules);
  assert.deepEqual(restartAfter(pod, 'main', 42), { action: 'restart', by: 'restartPolicyRules[0] (Restart on exit codes In [42])', own: true });
  assert.equal(act(pod, 43), 'restart-all');
  assert.equal(act(pod, 7), 'restart');
  assert.equal(act(pod, 1), 'none');
  assert.deepEqual(restartAfter(pod, 'main', 0), { action: 'none', by: 'its restartPolicy Never', own: true });
  // An action the kubelet does not know ends the search: the container's policy decides.
  assert.equal(act(withMain('Never', { restartPolicy: 'OnFailure', restartPolicyRules: [{ action: 'Pause', operator: 'In', values: [3] }, { action: 'Restart', operator: 'In', values: [3] }] }), 3), 'restart');
  assert.equal(act(withMain('Never', { restartPolicy: 'Never', restartPolicyRules: [{ action: 'Pause', operator: 'In', values: [3] }, { action: 'Restart', operator: 'In', values: [3] }] }), 3), 'none');
  // Rules without a restartPolicy of the container's own are not read (the API refuses them).
  assert.equal(act(withMain('Never', { restartPolicyRules: [{ action: 'Restart', operator: 'In', values: [42] }] }), 42), 'none');
  // A sidecar whose own policy restarts it is not finished for good, whatever the Pod's policy.
  const sidecarAlways = { spec: { restartPolicy: 'Never', containers: [{ name: 'main' }, { name: 'proxy', restartPolicy: 'Always' }] },
    status: { containerStatuses: [{ name: 'proxy', state: { terminated: { exitCode: 0 } } }] } } as Pod;
  assert.equal(finishedForGood(sidecarAlways, 'proxy'), false);
  assert.equal(readiness(sidecarAlways, planOf(sidecarAlways)).kind, 'waiting');
});

test('a view older than this proa (its own container terminated, removed for a restart of all, AllContainersRestarting): no sidecar counts as ready', () => {
  const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const p = planOf(pod);
  assert.equal(readiness(pod, p).kind, 'ready');
  const stale = structuredClone(pod);
  terminated(stale, 'main', 42);
  assert.match(staleView(stale, p) ?? '', /still shows proa's container main terminated \(exit code 42\)/);
  assert.equal(readiness(stale, p).kind, 'waiting');
  const restarting = structuredClone(pod) as Pod;
  restarting.status!.conditions = [{ type: 'AllContainersRestarting', status: 'True' }];
  assert.equal(readiness(restarting, p).kind, 'waiting');
  restarting.status!.conditions = [{ type: 'AllContainersRestarting', status: 'False' }];
  assert.equal(readiness(restarting, p).kind, 'ready');
});

test('fixtures: pending, proxy starting, proxy ready (statuses out of spec order)', () => {
  const pending = fixture('job-istio-pending.json') as Pod;
  const p = planOf(pending);
  assert.equal(p.own, 'main');
  assert.equal(p.ownRule, 'first container in the spec');
  assert.deepEqual(p.awaited, [{ name: 'istio-proxy', native: false }]);
  assert.deepEqual(readiness(pending, p), { kind: 'waiting', notReady: ['istio-proxy'] });
  assert.equal(describe(pending.status!.containerStatuses![0]), 'waiting (PodInitializing)');
  const starting = fixture('job-istio-proxy-starting.json') as Pod;
  assert.deepEqual(readiness(starting, p), { kind: 'waiting', notReady: ['istio-proxy'] });
  assert.equal(describe(starting.status!.containerStatuses!.find((s) => s.name === 'istio-proxy')), 'running, not started');
  assert.deepEqual(readiness(fixture('job-istio-ready.json') as Pod, p), { kind: 'ready' });
});

test('fixtures: a native sidecar with a readinessProbe is awaited by default, for readiness only; --ignore opts out', () => {
  const pod = fixture('job-native-sidecar.json') as Pod;
  assert.deepEqual(planOf(pod).awaited, [{ name: 'istio-proxy', native: true }]);
  assert.deepEqual(planOf(pod).nativeByDefault, ['istio-proxy']);
  assert.deepEqual(planOf(pod, { ignore: ['istio-proxy'] }).awaited, []);
  const unprobedNative = structuredClone(pod);
  delete unprobedNative.spec!.initContainers!.find((c) => c.name === 'istio-proxy')!.readinessProbe;
  assert.deepEqual(planOf(unprobedNative).awaited, [], 'without a readinessProbe, started is all it says: not awaited');
  const p = planOf(pod, { waitFor: ['istio-proxy'] });
  assert.deepEqual(p.nativeByDefault, [], 'named, not by default');
  assert.deepEqual(p.awaited, [{ name: 'istio-proxy', native: true }]);
  assert.deepEqual(readiness(pod, p), { kind: 'ready' });
  const base = exitBaseline(pod, p);
  assert.equal(base.size, 0, 'never awaited for exit');
  assert.deepEqual(exits(pod, p, base), { exited: [], running: [] });
});

test('fixtures: a sidecar in CrashLoopBackOff under OnFailure will restart: keep waiting', () => {
  const pod = fixture('job-onfailure-sidecar-restarted.json') as Pod;
  const p = planOf(pod);
  assert.equal(p.restartPolicy, 'OnFailure');
  assert.deepEqual(readiness(pod, p), { kind: 'waiting', notReady: ['istio-proxy'] });
});

test('missing statuses and a Pod with no status at all are "not ready", never an error', () => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b'] }) as Pod;
  pod.status!.containerStatuses = pod.status!.containerStatuses!.filter((s) => s.name === 'a');
  const p = planOf(pod);
  running(pod, 'a', true);
  assert.deepEqual(readiness(pod, p), { kind: 'waiting', notReady: ['b'] });
  delete pod.status;
  assert.deepEqual(readiness(pod, p), { kind: 'waiting', notReady: ['a', 'b'] });
  assert.equal(describe(undefined), 'no status yet');
});

test('ready only when every awaited container is ready in the same observation', () => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b'] });
  const p = planOf(pod);
  running(pod, 'a', true);
  running(pod, 'b', false);
  assert.equal(readiness(pod, p).kind, 'waiting');
  running(pod, 'b', true);
  assert.equal(readiness(pod, p).kind, 'ready');
});

test('fail fast: terminated and not restarting (Never; OnFailure with 0); not under Always', () => {
  for (const [policy, code, failed] of [['Never', 1, true], ['Never', 0, true], ['OnFailure', 0, true], ['OnFailure', 1, false], ['Always', 0, false]] as const) {
    const pod = makePod({ name: 'p', containers: ['main', 'side'], restartPolicy: policy });
    terminated(pod, 'side', code);
    const r = readiness(pod, planOf(pod));
    assert.equal(r.kind, failed ? 'failed' : 'waiting', `${policy} exit ${code}`);
    if (r.kind === 'failed') assert.equal(r.terminated.exitCode, code);
  }
});

test('--wait-for restricts, --ignore removes, own container never awaited, unknown names are errors', () => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b', 'c'], initContainers: [{ name: 'setup' }, { name: 'mesh', native: true }] });
  assert.deepEqual(planOf(pod, { waitFor: ['b', 'mesh'] }).awaited, [{ name: 'b', native: false }, { name: 'mesh', native: true }]);
  assert.deepEqual(planOf(pod, { ignore: ['a'] }).awaited.map((s) => s.name), ['mesh', 'b', 'c'], 'a probed native sidecar is awaited by default');
  assert.deepEqual(planOf(pod, { ignore: ['a', 'mesh'] }).awaited.map((s) => s.name), ['b', 'c']);
  const own = planOf(pod, { waitFor: ['main', 'setup', 'a'] });
  assert.deepEqual(own.awaited.map((s) => s.name), ['a']);
  assert.equal(own.notes.length, 2);
  const bad = plan(pod, { ...none, waitFor: ['nope'], ignore: ['zilch'] });
  assert.ok('error' in bad);
  assert.match(bad.error, /--wait-for: the Pod has no container "nope"/);
  assert.match(bad.error, /--ignore: the Pod has no container "zilch"/);
  const badOwn = plan(pod, { ...none, container: { value: 'ghost', source: '--container' } });
  assert.ok('error' in badOwn && /--container: the Pod has no container "ghost"/.test(badOwn.error));
});

test('a bad spec still says whom to wait for on the way out: every regular container but proa\'s own', () => {
  const pod = makePod({ name: 'p', containers: ['sidecar', 'worker', 'logger'], initContainers: [{ name: 'mesh', native: true }] });
  const typo = plan(pod, { ...none, waitFor: ['loger'] });
  assert.ok('error' in typo);
  assert.deepEqual(typo.fallback.awaited.map((s) => s.name), ['worker', 'logger'], 'own is the first container; native sidecars are the kubelet\'s');
  const badOwn = plan(pod, { ...none, container: { value: 'ghost', source: '--container' }, detected: 'worker' });
  assert.ok('error' in badOwn);
  assert.deepEqual(badOwn.fallback.awaited.map((s) => s.name), ['sidecar', 'logger'], 'then mountinfo decides proa\'s own');
  const ownOk = plan(pod, { ...none, container: { value: 'logger', source: '--container' }, ignore: ['nope'] });
  assert.ok('error' in ownOk);
  assert.deepEqual(ownOk.fallback.awaited.map((s) => s.name), ['sidecar', 'worker'], 'a valid --container is kept');
});

test('sidecars without a readiness probe are named; a startup probe alone is enough for a regular one', () => {
  const pod = makePod({ name: 'p', containers: ['main', 'bare', 'started', 'probed'], initContainers: [{ name: 'mesh', native: true }, { name: 'mesh2', native: true }], probes: false }) as Pod;
  const specs = [...pod.spec!.containers!, ...pod.spec!.initContainers!];
  const spec = (n: string): Record<string, unknown> => specs.find((c) => c.name === n)! as unknown as Record<string, unknown>;
  spec('started').startupProbe = { exec: { command: ['true'] } };
  spec('probed').readinessProbe = { httpGet: { port: 1 } };
  spec('mesh2').startupProbe = { tcpSocket: { port: 2 } };
  assert.deepEqual(planOf(pod).unprobed, ['bare']);
  assert.deepEqual(planOf(pod, { waitFor: ['mesh', 'mesh2', 'probed'] }).unprobed, ['mesh']);
  assert.deepEqual(planOf(pod, { ignore: ['bare'] }).unprobed, [], 'only awaited sidecars are named');
});

test('own container: --container, then mountinfo, then the first container', () => {
  const pod = makePod({ name: 'p', containers: ['sidecar', 'worker'] });
  assert.equal(planOf(pod, { container: { value: 'worker', source: 'PROA_CONTAINER' } }).ownRule, 'PROA_CONTAINER');
  const detected = planOf(pod, { detected: 'worker' });
  assert.equal(detected.own, 'worker');
  assert.deepEqual(detected.awaited.map((s) => s.name), ['sidecar']);
  const stale = planOf(pod, { detected: 'gone' });
  assert.equal(stale.own, 'sidecar');
  assert.equal(stale.notes.length, 1);
});

test('mountinfo: the termination-log mount names the container', () => {
  const text = [
    '1234 1200 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x',
    '1250 1234 259:1 /var/lib/kubelet/pods/0c0f3a52-6a1e-4c3c-9d7c-2f5b8f6f1a10/containers/main/8a1c2f3e /dev/termination-log rw,relatime - ext4 /dev/root rw',
    '1251 1234 259:1 /var/lib/kubelet/pods/0c0f3a52-6a1e-4c3c-9d7c-2f5b8f6f1a10/volumes/kubernetes.io~projected/kube-api-access-9zq7d /var/run/secrets/kubernetes.io/serviceaccount ro - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(containerFromMountinfo(text), 'main');
  // /var/lib on its own filesystem: the mount root is relative to it.
  assert.equal(containerFromMountinfo('9 1 8:3 /kubelet/pods/uid/containers/worker-2/ab12 /dev/termination-log rw - ext4 /dev/sda3 rw'), 'worker-2');
  assert.equal(containerFromMountinfo('1 0 0:1 / / rw - overlay overlay rw'), undefined);
});

test('exits: terminated, or moved through a restart since shutdown began', () => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b', 'c'], restartPolicy: 'OnFailure' });
  for (const n of ['a', 'b', 'c']) running(pod, n, true);
  const p = planOf(pod);
  const base = exitBaseline(pod, p);
  assert.deepEqual(exits(pod, p, base).running, ['a', 'b', 'c']);
  terminated(pod, 'a', 0);
  restarted(pod, 'b', 143);
  const r = exits(pod, p, base);
  assert.deepEqual(r.exited, [{ name: 'a', exitCode: 0, reason: 'Completed' }, { name: 'b', exitCode: 143, reason: 'Error' }]);
  assert.deepEqual(r.running, ['c']);
  running(pod, 'b', true);
  assert.deepEqual(exits(pod, p, base).running, ['c'], 'a restart seen only as running again still counts');
});

test('deletion and grace period', () => {
  const pod = makePod({ name: 'p', containers: ['main'], grace: 7 }) as Pod;
  assert.deepEqual(gracePeriodMs(pod), { ms: 7000, clamped: false });
  delete pod.spec!.terminationGracePeriodSeconds;
  assert.deepEqual(gracePeriodMs(pod), { ms: 30_000, clamped: false });
  pod.spec!.terminationGracePeriodSeconds = 3_000_000;
  assert.deepEqual(gracePeriodMs(pod), { ms: 2_147_483_647, clamped: true }, 'what a timer holds, and said so');
  assert.equal(isDeleting(pod), false);
  pod.metadata!.deletionTimestamp = '2026-11-20T10:00:30Z';
  assert.equal(isDeleting(pod), true);
});
