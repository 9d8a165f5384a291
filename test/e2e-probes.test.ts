// End to end, on the simulator with both API servers: proa runs the sidecars' readiness
// probes itself (--ready-by probe, the default) and starts the program when the sidecar
// serves, not when the kubelet's next period says so. The same Pods run on the real node
// in node-probes.test.ts, which holds the simulator to the kubelet.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { node, root, tempDir } from '../testbed/paths.ts';
import { clusterCerts } from '../testbed/api/certs.ts';
import type { Simulator } from '../testbed/simulator/simulator.ts';
import { freePort, httpSidecar, isReady, podManifest, proaContainer, proaLog, scenario, servingLine, shutdownFlag, simulate } from './e2e.ts';

const test = scenario;

/** The moment proa started the command, and whether the kubelet had reported `sidecar` ready by then. */
function startedAhead(sim: Simulator, sidecar: string): { started: number; kubeletReady: boolean; served: number | undefined } {
  const started = proaLog(sim, 'command started');
  assert.ok(started, 'the command started');
  const served = sim.timeline.find((e) => e.type === 'log' && e.container === sidecar && servingLine.test(String(e.line)))?.t;
  return { started: started.t, kubeletReady: sim.timeline.some((e) => isReady(sidecar)(e) && e.t <= started.t), served };
}

test("the probe's default period (10 s): the program starts once the sidecar serves, while the kubelet still reports it not ready", async (t, api) => {
  const port = await freePort();
  // The kubelet's first probe comes at once and fails (the sidecar serves 1.5 s later); its next one is 10 s on.
  const sidecar = httpSidecar('proxy', port, 1.5, { readinessProbe: { httpGet: { path: '/ready', port } } });
  const sim = await simulate(t, api, podManifest('default-period', { containers: [proaContainer([shutdownFlag(port)], ['true']), sidecar] }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Succeeded');
  const s = startedAhead(sim, 'proxy');
  assert.equal(s.kubeletReady, false, 'the kubelet had not reported the sidecar ready when the program started');
  assert.ok(s.served !== undefined && s.served <= s.started, 'the sidecar served before the program started');
  assert.ok(proaLog(sim, new RegExp(`^sidecar proxy: proa probes its readiness too: GET http://[\\d.]+:${port}/ready$`)));
  assert.ok(proaLog(sim, new RegExp(`^sidecar proxy: ready by proa's probe \\(GET http://[\\d.]+:${port}/ready: HTTP 200\\); the kubelet has not reported it yet$`)));
  const all = sim.logs('main').find((l) => l.msg === 'all sidecars are ready');
  assert.deepEqual(all?.by, { proxy: "proa's probe" });
});

test('--ready-by kubelet: the kubelet\'s word only, as before', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('ready-by-kubelet', {
    containers: [proaContainer(['--ready-by=kubelet', shutdownFlag(port)], ['true']), httpSidecar('proxy', port, 0.5)],
  }));
  assert.equal((await sim.finished).phase, 'Succeeded');
  const s = startedAhead(sim, 'proxy');
  assert.equal(s.kubeletReady, true);
  assert.equal(proaLog(sim, /^sidecar proxy: proa probes/), undefined);
  assert.deepEqual(sim.logs('main').find((l) => l.msg === 'all sidecars are ready')?.by, { proxy: 'kubelet' });
});

test('a named port and HTTPS with a self-signed certificate: probed as the kubelet probes it', async (t, api) => {
  const port = await freePort();
  const dir = tempDir();
  writeFileSync(join(dir, 'tls.crt'), clusterCerts().cert);
  writeFileSync(join(dir, 'tls.key'), clusterCerts().key);
  const sidecar = httpSidecar('proxy', port, 1, {
    ports: [{ name: 'admin', containerPort: port }],
    readinessProbe: { httpGet: { path: '/ready', port: 'admin', scheme: 'HTTPS' } },
  });
  (sidecar.env as { name: string; value: string }[]).push({ name: 'TLS_CERT', value: join(dir, 'tls.crt') }, { name: 'TLS_KEY', value: join(dir, 'tls.key') });
  const sim = await simulate(t, api, podManifest('named-https', {
    containers: [proaContainer([`-g=https://127.0.0.1:${port}/shutdown`, '--shutdown-http-timeout=2s'], ['true']), sidecar],
  }));
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  const s = startedAhead(sim, 'proxy');
  assert.equal(s.kubeletReady, false);
  assert.ok(proaLog(sim, new RegExp(`^sidecar proxy: ready by proa's probe \\(GET https://[\\d.]+:${port}/ready: HTTP 200\\)`)));
  sim.delete(1);
  await sim.finished;
});

test('a grpc readinessProbe: grpc.health.v1 SERVING, asked by proa ahead of the kubelet', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('grpc', {
    shareProcessNamespace: true,
    containers: [
      proaContainer(['--kill=node', '--shutdown-timeout=5s'], ['true']),
      {
        name: 'health', image: 'x', command: [node, join(root, 'testbed', 'images', 'standins', 'grpc-health.mjs')],
        env: [{ name: 'PORT', value: String(port) }, { name: 'SERVING_AFTER_SECONDS', value: '1' }],
        readinessProbe: { grpc: { port } },
      },
    ],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, health: 0 });
  const started = proaLog(sim, 'command started')!;
  const serving = sim.timeline.find((e) => e.type === 'log' && e.container === 'health' && e.line === 'serving');
  assert.ok(serving && serving.t <= started.t, 'the health service said SERVING before the program started');
  assert.equal(sim.timeline.some((e) => isReady('health')(e) && e.t <= started.t), false, 'the kubelet had not reported it ready yet');
  assert.ok(proaLog(sim, new RegExp(`^sidecar health: ready by proa's probe \\(gRPC [\\d.]+:${port}: SERVING\\)`)));
});

test('a startupProbe not yet passed holds proa back, though the readiness endpoint already answers', async (t, api) => {
  const port = await freePort();
  const dir = tempDir();
  const flag = join(dir, 'started');
  // The sidecar serves at once; its startupProbe passes only once `started` exists, 1.5 s on.
  const sidecar = {
    ...httpSidecar('proxy', port, 0, { readinessProbe: { httpGet: { path: '/ready', port } } }),
    command: ['sh', '-c', `"$0" "$1" & sleep 1.5; touch ${flag}; wait`, node, join(root, 'examples', 'sidecar.mjs')],
    startupProbe: { exec: { command: ['test', '-e', flag] }, periodSeconds: 1, failureThreshold: 30 },
  };
  const sim = await simulate(t, api, podManifest('startup-gate', { containers: [proaContainer([shutdownFlag(port)], ['true']), sidecar] }));
  assert.equal((await sim.finished).phase, 'Succeeded');
  const started = proaLog(sim, 'command started')!;
  const startedByKubelet = sim.timeline.find((e) => e.type === 'status' && e.container === 'proxy' && e.started === true);
  assert.ok(startedByKubelet && startedByKubelet.t <= started.t, 'the kubelet reported the sidecar started before the program started');
  assert.ok(proaLog(sim, /^sidecar proxy: proa probes once the kubelet reports it started \(it has a startupProbe\)$/));
});

test('a sidecar that listens on 127.0.0.1 alone: said once (the kubelet\'s probe never passes), and the readiness timeout gives proa\'s last answer', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('loopback-only', {
    containers: [
      proaContainer(['--ready-timeout=3s', shutdownFlag(port)], ['true']),
      {
        name: 'proxy', image: 'x', command: [node, join(root, 'test', 'bin', 'faulty-sidecar.mjs')],
        env: [{ name: 'PORT', value: String(port) }, { name: 'STARTUP_SECONDS', value: '0' }],
        readinessProbe: { httpGet: { path: '/ready', port }, periodSeconds: 1 },
      },
    ],
  }), { network: 'pod' });
  const outcome = await sim.finished;
  assert.equal(outcome.exitCodes.main, 5);
  const podIp = sim.podIp;
  const warned = sim.logs('main').filter((l) => /^sidecar proxy accepts connections on 127\.0\.0\.1:\d+ but refuses them on the Pod's IP/.test(l.msg));
  assert.equal(warned.length, 1, 'said once');
  assert.ok(sim.logs('main').some((l) => l.level === 'error' && l.msg.includes(`proa's probe last got GET http://${podIp}:${port}/ready: ECONNREFUSED`)));
});
