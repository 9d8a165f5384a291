// The real node, where the kubelet itself applies container restart rules (Kubernetes
// 1.35+: a container's own restartPolicy and restartPolicyRules; 1.36+: the
// RestartAllContainers action): proa keeps the sidecars for a retry its own rule asks for,
// lets the kubelet restart every container, warns of a sidecar its own policy would start
// again, and of a sidecar whose 143 fails the Pod. Registers nothing without a node.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { downwardEnv, play, proaLines, rbac } from './on-node.ts';

const node = nodeFromEnv();

const env = downwardEnv;
const proxy = (args: string[] = ['--quitquitquit', '--exit-zero-on-sigterm']): Record<string, unknown> => ({
  name: 'cloud-sql-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2',
  args: ['--health-check', '--http-address=0.0.0.0', ...args, '--port=5432', 'p:r:i'],
  readinessProbe: { httpGet: { path: '/readiness', port: 9090 }, periodSeconds: 1 },
});
const quit = '--shutdown-http-post=http://127.0.0.1:9091/quitquitquit';
const main = (args: string[], command: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'main', image: 'registry.example/report:3.1', env, command: ['/usr/local/bin/proa', ...args, '--', 'sh', '-c', command], ...extra,
});
const job = (name: string, spec: Record<string, unknown>): string =>
  `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { backoffLimit: 0, template: { spec: { serviceAccountName: 'proa', restartPolicy: 'Never', ...spec } } } })}---\n${rbac}`;
/** Exits 42 on its first run, 0 on the next: its state in an emptyDir, which outlives a container's restart. */
const failsOnce = 'if [ -e /state/ran ]; then echo second run; exit 0; fi; touch /state/ran; echo first run; exit 42';
const state = { volumeMounts: [{ name: 'state', mountPath: '/state' }] };
const volumes = [{ name: 'state', emptyDir: {} }];

if (node) describe('the real node: container restart rules', { concurrency: 4 }, () => {
  void test('a restart rule on proa\'s container (Restart on 42) under the Pod\'s Never: the proxy stays up for the retry, is asked to quit once, and the Job completes', { timeout: 180_000 }, async (t) => {
    const text = job('rule', {
      containers: [main([quit], failsOnce, { ...state, restartPolicy: 'Never', restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }] }), proxy()],
      volumes,
    });
    const p = await play(t, node, text, 'rule');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    const waited = await node.kubectl(['wait', '-n', p.namespace, '--for=condition=complete', 'job/rule', '--timeout=60s']);
    assert.equal(waited.code, 0, waited.stderr);
    const statuses = p.timeline.filter((x) => x.type === 'status');
    assert.ok(statuses.some((x) => x.container === 'main' && x.state === 'terminated 42'), 'the first run ended 42');
    assert.equal(statuses.filter((x) => x.container === 'main').at(-1)?.restartCount, 1, 'main restarted once, in place');
    assert.equal(statuses.filter((x) => x.container === 'cloud-sql-proxy').at(-1)?.restartCount, 0, 'the proxy was never restarted');
    // The first run's own log is gone (this kubelet cannot retrieve a container restarted by
    // a rule with `kubectl logs --previous`); the proxy's log and restart count show what it did.
    assert.equal((await p.logs('cloud-sql-proxy')).filter((l) => l.includes('POST /quitquitquit')).length, 1, 'the proxy was asked once, after the second run');
  });

  void test('RestartAllContainers on proa\'s container: proa sends nothing, the kubelet restarts every container, and the fresh run completes the Job', { timeout: 180_000 }, async (t) => {
    const text = job('all', {
      containers: [main([quit], failsOnce, { ...state, restartPolicy: 'Never', restartPolicyRules: [{ action: 'RestartAllContainers', exitCodes: { operator: 'In', values: [42] } }] }), proxy()],
      volumes,
    });
    const p = await play(t, node, text, 'all');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    const statuses = p.timeline.filter((x) => x.type === 'status');
    assert.ok(statuses.some((x) => x.container === 'main' && x.state === 'terminated 42'), 'the first run ended 42');
    assert.ok(statuses.some((x) => x.container === 'cloud-sql-proxy' && x.state === 'waiting RestartingAllContainers'), 'the kubelet removed the proxy for the restart of all');
    assert.ok((statuses.filter((x) => x.container === 'cloud-sql-proxy').at(-1)?.restartCount as number) >= 1, 'the proxy was started again');
    const logs = await p.logs('main');
    assert.ok(logs.includes('second run'));
    assert.equal((await p.logs('cloud-sql-proxy')).filter((l) => l.includes('POST /quitquitquit')).length, 1, 'the restarted proxy was asked once, by the second run');
    const lines = proaLines(logs);
    const started = lines.findIndex((l) => l.msg === 'command started');
    const ready = lines.findIndex((l) => /^sidecar cloud-sql-proxy: ready( by proa's probe |$)/.test(l.msg));
    assert.ok(ready >= 0 && ready < started, 'the second run waited for the restarted proxy to be ready');
  });

  void test('a sidecar with its own restartPolicy Always under the Pod\'s Never: proa warns at start, and proa check fails with the fix', { timeout: 180_000 }, async (t) => {
    const text = job('always', {
      containers: [main([quit], 'while [ ! -e /tmp/done ]; do sleep 0.2; done'), { ...proxy(), restartPolicy: 'Always' }],
    });
    const p = await play(t, node, text, 'always');
    await p.waitFor((x) => x.type === 'status' && x.container === 'main' && x.state === 'ready');
    const check = await p.exec('main', ['/usr/local/bin/proa', 'check']);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /fail +sidecar cloud-sql-proxy: its restartPolicy Always restarts it after exit code 0/);
    const warned = proaLines(await p.logs('main')).filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.ok(warned.some((m) => /^sidecar cloud-sql-proxy: its restartPolicy Always restarts it after exit code 0, .*the Job never completes/.test(m)), warned.join(' | '));
    await p.exec('main', ['touch', '/tmp/done']);
    // The kubelet starts the proxy again after it quit: the Pod does not complete, as proa said.
    await p.waitFor((x) => x.type === 'status' && x.container === 'cloud-sql-proxy' && (x.restartCount as number) >= 1);
    assert.notEqual(p.lastOutcome().phase, 'Succeeded');
  });

  void test('a native sidecar whose RestartAllContainers rule matches the 143 it exits with when the kubelet stops it at the end: no restart, no warning, the Job completes', { timeout: 180_000 }, async (t) => {
    // Tried here first: the kubelet does not apply the rule to a native sidecar it stops itself
    // once the regular containers have ended, so this is no trap and proa says nothing of it.
    const native = { ...proxy([]), restartPolicy: 'Always', restartPolicyRules: [{ action: 'RestartAllContainers', exitCodes: { operator: 'In', values: [143] } }] };
    const text = `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'native' }, spec: { backoffLimit: 0, template: { spec: {
      serviceAccountName: 'proa', restartPolicy: 'Never', initContainers: [native], containers: [main([], 'echo done')] } } } })}---\n${rbac}`;
    const p = await play(t, node, text, 'native');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    assert.deepEqual(outcome.exitCodes, { 'cloud-sql-proxy': 143, main: 0 });
    assert.ok(!p.timeline.some((x) => x.type === 'status' && (x.restartCount as number) > 0), 'nothing restarted');
    assert.deepEqual(proaLines(await p.logs('main')).filter((l) => l.level === 'warn').map((l) => l.msg), []);
  });

  void test('--kill on a sidecar that exits 143 on SIGTERM, under Never: proa warns that the Pod fails although the program succeeded, naming the proxy\'s flag; the Pod is Failed', { timeout: 180_000 }, async (t) => {
    const text = job('killed', {
      shareProcessNamespace: true,
      containers: [main(['--kill=cloud-sql-proxy'], 'echo done'), proxy([])],
    });
    const p = await play(t, node, text, 'killed');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Failed', 'Kubernetes fails a Pod with a container that exited non-zero');
    assert.deepEqual(outcome.exitCodes, { main: 0, 'cloud-sql-proxy': 143 });
    const warned = proaLines(await p.logs('main')).filter((l) => l.level === 'warn');
    const w = warned.find((l) => /^sidecar cloud-sql-proxy exited with code 143 \(Error\) after proa stopped it, and will not be restarted: .*Failed although the program succeeded/.test(l.msg));
    assert.ok(w, warned.map((l) => l.msg).join(' | '));
    assert.match(w.msg, /--exit-zero-on-sigterm/);
  });
});
