// End to end: the built binary as the main container of simulated Pods.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../testbed/paths.ts';
import { Simulator } from '../testbed/simulator/simulator.ts';
import { runtime } from '../testbed/images/runtime.ts';
import {
  assertStartedAfterReady, scenario, freePort, httpSidecar, isLine, pidOf, podManifest, proaContainer, proaLog, shutdownReceived, simulate, shutdownFlag,
} from './e2e.ts';

const test = scenario;
const trap = join(root, 'test', 'bin', 'trap.sh');

test('the seed scenario (examples/demo-job.yaml): Job complete, every exit code 0', async (t, api) => {
  const port = await freePort();
  const yaml = readFileSync(join(root, 'examples', 'demo-job.yaml'), 'utf8').replaceAll('18080', String(port)).replace('value: "3"', 'value: "1"');
  const sim = await Simulator.start(yaml, { api, runtime });
  t.after(() => sim.stop());
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0, 'sidecar-1': 0 }, restarts: { main: 0, 'sidecar-1': 0 } });
  assertStartedAfterReady(sim, ['sidecar-1']);
  assert.ok(shutdownReceived(sim, 'sidecar-1'));
  if (api === 'fake') {
    const watches = sim.timeline.filter((e) => e.type === 'api-request' && String(e.path).endsWith('/pods'));
    assert.equal(watches.length, 1, 'one watch request for the whole run');
    // And proa's story as Events on the Pod: one request per step, four in a fault-free Job.
    const events = sim.timeline.filter((e) => e.type === 'api-request' && String(e.path).endsWith('/events'));
    assert.equal(events.length, 4, 'four Events');
  }
});

test('the command\'s exit code passes through; the Pod fails as Kubernetes records it', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('exit-code', {
    containers: [proaContainer([shutdownFlag(port)], ['sh', '-c', 'exit 3']), httpSidecar('proxy', port)],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Failed');
  assert.deepEqual(outcome.exitCodes, { main: 3, proxy: 0 });
  assertStartedAfterReady(sim, ['proxy']);
});

test('the command killed by a signal: 128 + N', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('killed', {
    containers: [proaContainer([shutdownFlag(port)], ['sh', '-c', 'kill -KILL $$$$']), httpSidecar('proxy', port)], // $$ is Kubernetes' escape for $
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 137, proxy: 0 });
  assert.equal(outcome.phase, 'Failed');
});

test('several sidecars, one slow: the command waits for the slowest; all are shut down', async (t, api) => {
  const [a, b] = [await freePort(), await freePort()];
  const sim = await simulate(t, api, podManifest('several', {
    containers: [
      proaContainer([`-g=http://127.0.0.1:${a}/shutdown`, `-g=http://127.0.0.1:${b}/shutdown`], ['true']),
      httpSidecar('fast', a, 0.1), httpSidecar('slow', b, 2),
    ],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0, fast: 0, slow: 0 }, restarts: { main: 0, fast: 0, slow: 0 } });
  assertStartedAfterReady(sim, ['fast', 'slow']);
  assert.ok(shutdownReceived(sim, 'fast') && shutdownReceived(sim, 'slow'));
  assert.ok(proaLog(sim, '2/2 sidecars exited'));
});

test('--wait-for and --ignore choose whom to wait for; everyone is still shut down', async (t, api) => {
  for (const flag of [['--wait-for=fast'], ['--ignore=never']]) {
    const [a, b] = [await freePort(), await freePort()];
    const sim = await simulate(t, api, podManifest(`choose-${flag[0]!.slice(2, 6)}`, {
      containers: [
        proaContainer([...flag, `-g=http://127.0.0.1:${a}/shutdown`, `-g=http://127.0.0.1:${b}/shutdown`], ['true']),
        httpSidecar('fast', a, 0.1),
        httpSidecar('never', b, 0.1, { readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } }),
      ],
    }));
    const outcome = await sim.finished;
    assert.deepEqual(outcome.exitCodes, { main: 0, fast: 0, never: 0 }, flag.join(' '));
    assert.equal(outcome.phase, 'Succeeded');
    assertStartedAfterReady(sim, ['fast']);
    assert.ok(shutdownReceived(sim, 'never'), 'the ignored sidecar still got its shutdown request');
  }
});

test('a native sidecar next to a regular one: both awaited for readiness, the native one stopped by the kubelet after', async (t, api) => {
  const [a, b] = [await freePort(), await freePort()];
  const sim = await simulate(t, api, podManifest('native', {
    initContainers: [{ ...httpSidecar('mesh', b, 0.2), restartPolicy: 'Always', startupProbe: { tcpSocket: { port: b }, periodSeconds: 1 } }],
    containers: [proaContainer([`-g=http://127.0.0.1:${a}/shutdown`], ['true']), httpSidecar('proxy', a, 0.2)],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Succeeded');
  assert.equal(outcome.exitCodes.main, 0);
  assert.equal(outcome.exitCodes.proxy, 0);
  assertStartedAfterReady(sim, ['proxy', 'mesh']);
  const found = proaLog(sim, 'found the Pod');
  assert.deepEqual((JSON.parse(String(found!.line)) as { sidecars: string[] }).sidecars, ['mesh', 'proxy']);
  const meshStarted = sim.timeline.find((e) => e.type === 'container-start' && e.container === 'mesh')!;
  const mainStarted = sim.timeline.find((e) => e.type === 'container-start' && e.container === 'main')!;
  assert.ok(meshStarted.t < mainStarted.t, 'the native sidecar starts before the regular containers');
  const meshStopped = sim.timeline.find((e) => e.type === 'signal' && e.container === 'mesh')!;
  const mainExit = sim.timeline.find((e) => e.type === 'container-exit' && e.container === 'main')!;
  assert.ok(meshStopped.t > mainExit.t, 'and is stopped after them');
});

test('TERM while the command runs: forwarded, and the sidecars are still shut down', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('term-running', {
    containers: [proaContainer([shutdownFlag(port)], [trap]), httpSidecar('proxy', port)],
  }));
  await sim.waitFor(isLine('main', 'ready'));
  process.kill(pidOf(sim, 'main'), 'SIGTERM');
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 42, proxy: 0 });
  assert.ok(shutdownReceived(sim, 'proxy'));
});

test('proa as PID 1 of its container', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('pid-one', {
    containers: [proaContainer([shutdownFlag(port)], ['sh', '-c', 'echo "parent=$PPID"']), httpSidecar('proxy', port)],
  }), { ownPidNamespace: ['main'] });
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 });
  assert.ok(sim.timeline.some((e) => e.type === 'log' && e.container === 'main' && e.line === 'parent=1'), 'the command\'s parent is PID 1: proa');
  assertStartedAfterReady(sim, ['proxy']);
});
