// The real node: proa runs the sidecars' readiness probes itself and starts the program
// when the sidecar serves, while the kubelet, probing at its default period (10 s),
// still reports it not ready; named ports, HTTPS with a self-signed certificate, grpc; a
// startupProbe that has not passed holds proa back; --ready-by kubelet waits for the
// kubelet. Judged by the Pod's status as the watch saw it against the program's own
// first line, placed by the kubelet's timestamps (the kubelet's default period leaves
// seconds between them). The sidecars serve 3 s after they start, so that proa, probing
// every 200 ms, is up and probing by then: only a kubelet probe that falls in the same
// 200 ms could come first. Registers nothing without a node.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { clusterCerts } from '../testbed/api/certs.ts';
import type { PlayedOnNode } from '../testbed/node/played.ts';
import { downwardEnv, play, proaLines, rbac } from './on-node.ts';

const node = nodeFromEnv();

const main = (args: string[], shutdown: string[]): Record<string, unknown> => ({
  name: 'main', image: 'registry.example/report:3.1', env: downwardEnv,
  command: ['/usr/local/bin/proa', ...shutdown, ...args, '--', 'sh', '-c', 'echo program started'],
});
/** examples/sidecar.mjs in the node image: serves after STARTUP_SECONDS, exits 0 on GET /shutdown. */
const sidecar = (port: number, startup: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'proxy', image: 'node:22', command: ['node', '/examples/sidecar.mjs'],
  env: [{ name: 'PORT', value: String(port) }, { name: 'STARTUP_SECONDS', value: String(startup) }],
  readinessProbe: { httpGet: { path: '/ready', port } }, ...extra,
});
const job = (name: string, spec: Record<string, unknown>, extraDocs = ''): string =>
  `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { backoffLimit: 0, template: { spec: { serviceAccountName: 'proa', restartPolicy: 'Never', ...spec } } } })}---\n${rbac}${extraDocs}`;

/** When the program printed its first line, and when the watch first saw `container` ready, on one timeline. */
async function order(p: PlayedOnNode, container: string): Promise<{ program: number; kubeletReady: number | undefined }> {
  const logs = await p.logEvents();
  const program = logs.find((e) => e.container === 'main' && e.line === 'program started');
  assert.ok(program, 'the program ran');
  const ready = p.timeline.find((e) => e.type === 'status' && e.container === container && e.ready === true);
  return { program: program.t, kubeletReady: ready?.t };
}

if (node) describe('the real node: proa probes the sidecars itself', { concurrency: 4 }, () => {
  void test("the probe's default period: the program starts once the sidecar serves, while the kubelet still reports it not ready", { timeout: 180_000 }, async (t) => {
    const p = await play(t, node, job('period', { containers: [main([], ['-g=http://127.0.0.1:8080/shutdown']), sidecar(8080, 3)] }), 'period');
    const outcome = await p.finished;
    assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 });
    assert.equal(outcome.phase, 'Succeeded');
    const o = await order(p, 'proxy');
    assert.ok(o.kubeletReady === undefined || o.program < o.kubeletReady, `the program (${o.program} ms) before the kubelet's ready (${o.kubeletReady} ms)`);
    const lines = proaLines(await p.logs('main'));
    assert.ok(lines.some((l) => /^sidecar proxy: ready by proa's probe \(GET http:\/\/[\d.]+:8080\/ready: HTTP 200\); the kubelet has not reported it yet$/.test(l.msg)));
  });

  void test('a named port and HTTPS with a self-signed certificate', { timeout: 180_000 }, async (t) => {
    const tls = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'tls' }, data: { 'tls.crt': clusterCerts().cert, 'tls.key': clusterCerts().key } });
    const proxy = sidecar(8443, 3, {
      ports: [{ name: 'admin', containerPort: 8443 }],
      readinessProbe: { httpGet: { path: '/ready', port: 'admin', scheme: 'HTTPS' } },
      volumeMounts: [{ name: 'tls', mountPath: '/tls' }],
    });
    (proxy.env as unknown[]).push({ name: 'TLS_CERT', value: '/tls/tls.crt' }, { name: 'TLS_KEY', value: '/tls/tls.key' });
    // proa's shutdown request verifies the certificate (only probes do not): this one is
    // refused, and the test ends the Pod itself once the program has run.
    const p = await play(t, node, job('https', {
      containers: [main(['--shutdown-timeout=2s'], ['-g=https://127.0.0.1:8443/shutdown']), proxy], volumes: [{ name: 'tls', configMap: { name: 'tls' } }],
    }, `---\n${tls}`), 'https');
    await p.waitFor((e) => e.type === 'status' && e.container === 'main' && String(e.state).startsWith('terminated'));
    const o = await order(p, 'proxy');
    const lines = proaLines(await p.logs('main'));
    await p.deletePod();
    assert.ok(o.kubeletReady === undefined || o.program < o.kubeletReady, `the program (${o.program} ms) before the kubelet's ready (${o.kubeletReady} ms)`);
    assert.ok(lines.some((l) => /^sidecar proxy: ready by proa's probe \(GET https:\/\/[\d.]+:8443\/ready: HTTP 200\)/.test(l.msg)));
  });

  void test('a grpc readinessProbe: grpc.health.v1 SERVING, asked by proa ahead of the kubelet', { timeout: 180_000 }, async (t) => {
    const p = await play(t, node, job('grpc', {
      shareProcessNamespace: true,
      containers: [
        main(['--shutdown-timeout=10s'], ['--kill=node']),
        { name: 'health', image: 'node:22', command: ['node', '/standins/grpc-health.mjs'],
          env: [{ name: 'PORT', value: '9090' }, { name: 'SERVING_AFTER_SECONDS', value: '3' }], readinessProbe: { grpc: { port: 9090 } } },
      ],
    }), 'grpc');
    const outcome = await p.finished;
    assert.deepEqual(outcome.exitCodes, { main: 0, health: 0 });
    const o = await order(p, 'health');
    const lines = proaLines(await p.logs('main'));
    assert.ok(o.kubeletReady === undefined || o.program < o.kubeletReady, `the program (${o.program} ms) before the kubelet's ready (${o.kubeletReady} ms): ${JSON.stringify(lines)}`);
    assert.ok(lines.some((l) => /^sidecar health: ready by proa's probe \(gRPC [\d.]+:9090: SERVING\)/.test(l.msg)));
  });

  void test('a startupProbe not yet passed holds proa back, though the readiness endpoint already answers', { timeout: 180_000 }, async (t) => {
    const proxy = {
      ...sidecar(8080, 0), command: ['sh', '-c', 'node /examples/sidecar.mjs & sleep 4; touch /tmp/started; wait'],
      startupProbe: { exec: { command: ['test', '-e', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 30 },
    };
    const p = await play(t, node, job('startup', { containers: [main([], ['-g=http://127.0.0.1:8080/shutdown']), proxy] }), 'startup');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    const logs = await p.logEvents();
    const program = logs.find((e) => e.container === 'main' && e.line === 'program started')!;
    const started = p.timeline.find((e) => e.type === 'status' && e.container === 'proxy' && e.started === true);
    assert.ok(started && started.t <= program.t, `the kubelet reported the sidecar started (${started?.t} ms) before the program (${program.t} ms)`);
    // proa says why it holds back when its watch shows the sidecar running and not started;
    // a kubelet slow to write its status (a loaded node) may publish the sidecar started at once.
    const heldShown = p.timeline.some((e) => e.type === 'status' && e.container === 'proxy' && e.state === 'running' && e.started === false);
    const said = proaLines(await p.logs('main')).some((l) => l.msg === 'sidecar proxy: proa probes once the kubelet reports it started (it has a startupProbe)');
    if (heldShown) assert.ok(said, 'proa says it waits for the startupProbe');
    else t.diagnostic('the API never showed the sidecar running and not started (the kubelet\'s status lag): the hold could not be seen');
  });

  void test('--ready-by kubelet: the program starts after the kubelet reports the sidecar ready', { timeout: 180_000 }, async (t) => {
    const proxy = sidecar(8080, 0.5, { readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 } });
    const p = await play(t, node, job('kubelet', { containers: [main(['--ready-by=kubelet'], ['-g=http://127.0.0.1:8080/shutdown']), proxy] }), 'kubelet');
    assert.equal((await p.finished).phase, 'Succeeded');
    const lines = proaLines(await p.logs('main'));
    assert.deepEqual(lines.find((l) => l.msg === 'all sidecars are ready')?.by, { proxy: 'kubelet' });
    assert.equal(lines.some((l) => l.msg.startsWith('sidecar proxy: proa probes')), false);
  });
});
