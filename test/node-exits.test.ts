// The real node: proa's exit without the kubelet's second lag. A sidecar that answers its
// shutdown request and exits is judged stopped by its endpoints refusing connections; in
// a shared PID namespace one that closes its port but keeps running is not (its
// processes, by their cgroup, are still there); one ended by --kill has its exit code
// from the kubelet before proa exits. Registers nothing without a node.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { downwardEnv, play, proaLines, rbac } from './on-node.ts';

const node = nodeFromEnv();

const main = (args: string[]): Record<string, unknown> => ({
  name: 'main', image: 'registry.example/report:3.1', env: downwardEnv, command: ['/usr/local/bin/proa', ...args, '--', 'sh', '-c', 'echo program started'],
});
const job = (name: string, spec: Record<string, unknown>): string =>
  `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { backoffLimit: 0, template: { spec: { serviceAccountName: 'proa', restartPolicy: 'Never', ...spec } } } })}---\n${rbac}`;
const readiness = { readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 } };

if (node) describe('the real node: the exit by the fastest sign', { concurrency: 3 }, () => {
  void test('a sidecar that answers its shutdown request and exits: judged stopped by its endpoints, the Job completes', { timeout: 180_000 }, async (t) => {
    const proxy = { name: 'proxy', image: 'node:22', command: ['node', '/examples/sidecar.mjs'], env: [{ name: 'PORT', value: '8080' }, { name: 'STARTUP_SECONDS', value: '0.2' }], ...readiness };
    const p = await play(t, node, job('sign', { containers: [main(['-g=http://127.0.0.1:8080/shutdown']), proxy] }), 'sign');
    const outcome = await p.finished;
    assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 });
    const lines = proaLines(await p.logs('main'));
    assert.ok(lines.some((l) => l.msg === 'sidecar proxy has stopped: its endpoints refuse connections after its shutdown request was answered'));
    const done = lines.find((l) => l.msg === '1/1 sidecars exited');
    assert.ok(done, 'the wait ended');
  });

  void test('shared PID namespace: a sidecar that closes its port but keeps running is not taken as stopped; the bound passes and the error names it', { timeout: 180_000 }, async (t) => {
    const lingering = "const s=require('http').createServer((q,r)=>{r.end('ok');if(q.url==='/shutdown'){console.log('draining');s.close();s.closeIdleConnections();}});" +
      "s.listen(8080,()=>console.log('listening'));setInterval(()=>{},1000);";
    const p = await play(t, node, job('linger', {
      shareProcessNamespace: true,
      containers: [main(['-g=http://127.0.0.1:8080/shutdown', '--shutdown-timeout=4s']), { name: 'proxy', image: 'node:22', command: ['node', '-e', lingering], ...readiness }],
    }), 'linger');
    await p.waitFor((e) => e.type === 'status' && e.container === 'main' && String(e.state).startsWith('terminated'));
    const lines = proaLines(await p.logs('main'));
    await p.deletePod();
    assert.equal(lines.some((l) => l.msg.startsWith('sidecar proxy has stopped')), false, 'its process was still there');
    assert.ok(lines.some((l) => /^sidecar proxy is still running after 4000ms \(--shutdown-timeout\): the Pod will not complete on its own/.test(l.msg)));
  });

  void test('--kill: the processes gone, then the exit code from the kubelet (143 named) before proa exits', { timeout: 180_000 }, async (t) => {
    const p = await play(t, node, job('kill', {
      shareProcessNamespace: true,
      containers: [main(['--kill=cloud-sql-proxy', '--shutdown-timeout=10s']), {
        name: 'cloud-sql-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2',
        args: ['--health-check', '--http-address=0.0.0.0', '--port=5432', 'p:r:i'],
        readinessProbe: { httpGet: { path: '/readiness', port: 9090 }, periodSeconds: 1 },
      }],
    }), 'kill');
    const outcome = await p.finished;
    assert.deepEqual(outcome.exitCodes, { main: 0, 'cloud-sql-proxy': 143 });
    const lines = proaLines(await p.logs('main'));
    assert.ok(lines.some((l) => l.msg === "sidecar cloud-sql-proxy has stopped: none of its processes is left; waiting up to 2s for the kubelet's word " +
      '(a kill action may have ended it: its exit code comes from the kubelet)'), 'its processes were found by their cgroup, and their end seen');
    assert.ok(lines.some((l) => /^sidecar cloud-sql-proxy exited with code 143 \(Error\) after proa stopped it/.test(l.msg)), 'the kubelet\'s word came before proa exited');
  });
});
