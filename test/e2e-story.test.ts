// End to end, on the simulator with both API servers: the Job's story where a user looks
// first. proa's termination message (what `kubectl describe pod` shows under its
// container's state), read as the kubelet reads it when the container ends.
import assert from 'node:assert/strict';
import type { Simulator } from '../testbed/simulator/simulator.ts';
import { freePort, httpSidecar, neverReady, podManifest, proaContainer, scenario, shutdownFlag, simulate } from './e2e.ts';

const test = scenario;

const messageOf = (sim: Simulator, container = 'main'): string =>
  String(sim.timeline.find((e) => e.type === 'termination-message' && e.container === container)?.message ?? '');

test('a fault-free Job: the termination message gives the exit code, the wait, the shutdown and the stop', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('story', { containers: [proaContainer([shutdownFlag(port)], ['sh', '-c', 'exit 0']), httpSidecar('proxy', port, 0.3)] }));
  assert.equal((await sim.finished).phase, 'Succeeded');
  const m = messageOf(sim);
  assert.match(m, /^proa exited 0; the program: exit code 0\n/);
  assert.match(m, /\nsidecars ready after \d+\.\ds \(proxy\)/);
  assert.match(m, new RegExp(`\\nshutdown: GET http://127\\.0\\.0\\.1:${port}/shutdown answered 200\\n`));
  assert.match(m, /\nsidecars stopped after \d+\.\ds\n$/);
});

test('a sidecar never ready: the message says the program never ran, and why', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('story-timeout', {
    containers: [proaContainer(['--ready-timeout=2s', shutdownFlag(port)], ['true']), httpSidecar('proxy', port, 0.1, neverReady)],
  }));
  assert.equal((await sim.finished).exitCodes.main, 5);
  const m = messageOf(sim);
  assert.match(m, /^proa exited 5; the program never ran\n/);
  assert.match(m, /\nsidecars not ready after 2000ms \(--ready-timeout\): not starting the command\n/);
});

test('a sidecar still running at the bound: the message names it', async (t, api) => {
  const sim = await simulate(t, api, podManifest('story-survivor', {
    containers: [proaContainer(['--shutdown-timeout=2s', '-g=http://127.0.0.1:1/quit'], ['true']), { name: 'agent', image: 'x', command: ['sleep', '300'] }],
  }));
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  const m = messageOf(sim);
  sim.delete(1);
  await sim.finished;
  assert.match(m, /^proa exited 0; the program: exit code 0\n/);
  assert.match(m, /\nnot stopped: sidecar agent\n/);
  assert.match(m, /\nshutdown: GET http:\/\/127\.0\.0\.1:1\/quit failed \(ECONNREFUSED\)/);
});
