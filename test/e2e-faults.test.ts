// End to end, when things go wrong: sidecars that never get ready or crash, signals,
// Pod deletion, and --kill in a shared process namespace.
import assert from 'node:assert/strict';
import { freePort, httpSidecar, isLine, pidOf, podManifest, proaContainer, proaLog, shutdownReceived, simulate, scenario, neverReady, shutdownFlag, namedCopy } from './e2e.ts';

const test = scenario;

test('a sidecar that never becomes ready: --ready-timeout, exit 5, still shut down', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('never-ready', {
    containers: [proaContainer(['--ready-timeout=2s', shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, 0.1, neverReady)],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Failed');
  assert.deepEqual(outcome.exitCodes, { main: 5, proxy: 0 });
  assert.ok(proaLog(sim, /^sidecar proxy is not ready: running, not ready/));
  assert.ok(!proaLog(sim, 'command started'));
  assert.ok(shutdownReceived(sim, 'proxy'));
});

test('a sidecar that crashes under restartPolicy Never: exit 4 at once, naming it', async (t, api) => {
  const sim = await simulate(t, api, podManifest('crash-never', {
    containers: [proaContainer([], ['true']), { name: 'proxy', image: 'x', command: ['sh', '-c', 'sleep 0.3; exit 7'], ...neverReady }],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Failed', deleted: false, exitCodes: { main: 4, proxy: 7 }, restarts: { main: 0, proxy: 0 } });
  assert.ok(proaLog(sim, 'sidecar proxy terminated and will not be restarted: not starting the command'));
});

for (const policy of ['OnFailure', 'Always'] as const) {
  test(`a sidecar that crashes under restartPolicy ${policy}: restarted by the kubelet; proa keeps waiting and says why`, async (t, api) => {
    const sim = await simulate(t, api, podManifest(`crash-${policy.toLowerCase()}`, {
      restartPolicy: policy,
      containers: [proaContainer(['--ready-timeout=2500ms'], ['true']), { name: 'proxy', image: 'x', command: ['sh', '-c', 'sleep 0.2; exit 1'], ...neverReady }],
    }), { backoffBaseMs: 300 });
    await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
    assert.equal(sim.timeline.find((e) => e.type === 'container-exit' && e.container === 'main')!.exitCode, 5);
    assert.ok(sim.timeline.some((e) => e.type === 'container-restart' && e.container === 'proxy'), 'the kubelet restarted the sidecar');
    assert.ok(proaLog(sim, 'sidecar proxy: waiting (CrashLoopBackOff)'), 'proa logged the crash loop');
    assert.ok(!proaLog(sim, 'command started'));
  });
}

test('TERM to proa while it waits: the command never starts, sidecars shut down, exit 143', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('term-waiting', {
    containers: [proaContainer([shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, 0.1, neverReady)],
  }));
  await sim.waitFor(isLine('main', '"sidecar proxy: running, not ready"', 'anywhere'));
  await sim.waitFor(isLine('proxy', 'Starting the sidecar'));
  process.kill(pidOf(sim, 'main'), 'SIGTERM');
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 143, proxy: 0 });
  assert.ok(shutdownReceived(sim, 'proxy'));
});

test('Pod deletion with a grace period while proa waits: exit 6, every container stopped, then DELETED', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('deleted', {
    containers: [proaContainer([shutdownFlag(port)], ['true']), httpSidecar('proxy', port, 0.1, neverReady)],
  }));
  await sim.waitFor(isLine('main', '"sidecar proxy: running, not ready"', 'anywhere'));
  sim.delete(3);
  const outcome = await sim.finished;
  assert.equal(outcome.deleted, true);
  assert.equal(outcome.exitCodes.main, 6);
  assert.ok(proaLog(sim, 'the Pod is being deleted'));
  const deleted = sim.timeline.find((e) => e.type === 'pod-deleted')!;
  assert.ok(sim.timeline.filter((e) => e.type === 'container-exit').every((e) => e.t <= deleted.t), 'DELETED only after every container stopped');
});

test('--kill in a shared process namespace: the sidecar process is signalled by name', async (t, api) => {
  const envoy = namedCopy('/bin/bash', 'fake-envoy');
  const sim = await simulate(t, api, podManifest('shared-pidns', {
    shareProcessNamespace: true,
    containers: [
      proaContainer(['--kill=fake-envoy'], ['sh', '-c', 'echo "pid=$$$$"']),
      // Like Envoy: exits 0 on TERM.
      { name: 'envoy', image: 'x', command: [envoy, '-c', 'trap "exit 0" TERM; while :; do sleep 1 & wait $$!; done'] },
    ],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0, envoy: 0 }, restarts: { main: 0, envoy: 0 } });
  const sent = sim.logs('main').filter((l) => l.msg === 'sent signal');
  assert.deepEqual(sent.map((l) => [l.name, l.signal]), [['fake-envoy', 'SIGTERM']]);
});
