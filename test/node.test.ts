// The real node's tier (testbed/node/): every example in examples/ applied with kubectl
// as a user would, run by a real kubelet, containerd and runc from images pulled out of
// the test bed's registry, with the injectors as a real mutating webhook; then what only
// a real kubelet shows: a Pod deleted while proa waits, an OnFailure retry, a sidecar
// that crashes under Never, and `proa check` through `kubectl exec`. Registers nothing
// when test/run.ts started no node (it says why, at the start and end of the run).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { downwardEnv, play, proaLines, rbac } from './on-node.ts';
import { examples, manifest } from './examples.ts';

const node = nodeFromEnv();

const env = downwardEnv;
/** The Cloud SQL proxy stand-in with its admin port's quit endpoint; ready when it serves. */
const proxy = {
  name: 'cloud-sql-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2',
  args: ['--health-check', '--http-address=0.0.0.0', '--quitquitquit', '--exit-zero-on-sigterm', '--port=5432', 'p:r:i'],
  readinessProbe: { httpGet: { path: '/readiness', port: 9090 }, periodSeconds: 1 },
};
const proa = (args: string[], command: string): Record<string, unknown> => ({
  name: 'main', image: 'registry.example/report:3.1', env,
  command: ['/usr/local/bin/proa', ...args, '--', 'sh', '-c', command],
});
const job = (name: string, spec: Record<string, unknown>, backoffLimit = 0): string =>
  `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { backoffLimit, template: { spec: { serviceAccountName: 'proa', ...spec } } } })}---\n${rbac}`;

// The node runs several Jobs at once, as a cluster does: four at a time.
if (node) describe('the real node', { concurrency: 4 }, () => {
  for (const e of examples) {
    const name = `examples/${e.file}${e.variant ? ` as ${e.variant}` : ''} completes as a real Job on the real node`;
    void test(name, { timeout: 240_000 }, async (t) => {
      const p = await play(t, node, manifest(e), e.file.replace('.yaml', ''));
      const outcome = await p.finished;
      const waited = await node.kubectl(['wait', '-n', p.namespace, '--for=condition=complete', 'job', '--all', '--timeout=120s']);
      assert.equal(waited.code, 0, `the Job reached Complete: ${waited.stderr}`);
      assert.equal(outcome.phase, 'Succeeded', `the Pod succeeded; exit codes ${JSON.stringify(outcome.exitCodes)}`);
      for (const [container, code] of Object.entries(outcome.exitCodes)) assert.equal(code, 0, `${container} exited 0`);
      const logs: Record<string, string[]> = {};
      for (const c of Object.keys(outcome.exitCodes)) logs[c] = await p.logs(c);
      for (const c of e.proas ?? ['main']) {
        const lines = proaLines(logs[c]!);
        assert.ok(lines.some((l) => l.msg === 'command exited'), `${c}: proa ran its command`);
        assert.deepEqual(lines.filter((l) => l.level === 'error').map((l) => l.msg), [], `${c}: proa logged no error`);
        const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg).filter((w) => !(e.warnings ?? []).some((re) => re.test(w)));
        assert.deepEqual(warnings, [], `${c}: proa warned only as the example says`);
      }
      for (const [container, line] of Object.entries(e.lines)) {
        assert.ok(logs[container]!.some((l) => l.startsWith(line)), `${container} wrote "${line}": ${logs[container]!.join(' | ')}`);
      }
      for (const container of e.kubeletStops ?? []) {
        assert.ok(logs[container]!.some((l) => / received SIGTERM/.test(l)), `the kubelet stopped ${container}: ${logs[container]!.join(' | ')}`);
        assert.ok(!logs[container]!.some((l) => /POST \/(quitquitquit|shutdown)/.test(l)), `proa left ${container} to the kubelet`);
      }
      for (const s of e.readyFirst ?? []) {
        const msgs = proaLines(logs.main!).map((l) => l.msg);
        // Ready by the kubelet's word or by proa's own probe, whichever came first (a race).
        const ready = msgs.findIndex((m) => m === `sidecar ${s}: ready` || m.startsWith(`sidecar ${s}: ready by proa's probe (`));
        assert.ok(ready >= 0 && ready < msgs.indexOf('command started'), `${s} was ready before the command started: ${msgs.join(' | ')}`);
      }
      if (e.once) assert.equal(Object.values(logs).flat().filter((l) => l.startsWith(e.once!)).length, 1, `"${e.once}" once`);
      const started = p.timeline.find((x) => x.type === 'status' && x.state !== 'waiting ContainerCreating' && x.state !== 'waiting PodInitializing');
      const end = p.timeline.find((x) => x.type === 'phase' && x.phase === 'Succeeded');
      t.diagnostic(`first container running at +${((started?.t ?? 0) / 1000).toFixed(1)} s, Pod Succeeded at +${((end?.t ?? 0) / 1000).toFixed(1)} s after kubectl apply`);
    });
  }

  void test('a Pod deleted while proa waits for its sidecar: proa ends 6 or 143, the sidecar stops, read from the last status before the Pod is gone', { timeout: 120_000 }, async (t) => {
    const pod = stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'deleted' },
      spec: {
        restartPolicy: 'Never', serviceAccountName: 'proa', terminationGracePeriodSeconds: 10,
        containers: [proa(['--shutdown-http-post=http://127.0.0.1:9091/quitquitquit'], 'echo never'),
          { ...proxy, readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } }],
      },
    });
    const p = await play(t, node, `${rbac}\n---\n${pod}`, 'deleted');
    await p.waitFor((x) => x.type === 'status' && x.container === 'cloud-sql-proxy' && x.state === 'running');
    // proa is waiting once the proxy runs unready; its own log says so before the deletion.
    await p.waitForLog('main', (l) => l.includes('"sidecar cloud-sql-proxy: running, not ready"'));
    await p.deletePod();
    await p.waitFor((x) => x.type === 'pod-deleted');
    const outcome = p.lastOutcome();
    assert.ok([6, 143].includes(outcome.exitCodes.main!), `proa ended 6 (saw the deletion first) or 143 (the kubelet's TERM first): ${JSON.stringify(outcome.exitCodes)}`);
    assert.ok(outcome.exitCodes['cloud-sql-proxy'] !== undefined, 'the sidecar stopped');
    t.diagnostic(`on this run proa ended ${outcome.exitCodes.main} (${outcome.exitCodes.main === 6 ? 'the deletion seen by the watch first' : 'the kubelet\'s SIGTERM first'}); the proxy ${outcome.exitCodes['cloud-sql-proxy']}`);
  });

  void test('OnFailure: the command fails on its first run and succeeds on its second; the sidecar survives the restart and the Job completes', { timeout: 180_000 }, async (t) => {
    const text = job('retry', {
      restartPolicy: 'OnFailure',
      containers: [
        { ...proa(['--shutdown-http-post=http://127.0.0.1:9091/quitquitquit'],
          'if [ -e /state/ran ]; then echo second run; exit 0; fi; touch /state/ran; echo first run; exit 3'), volumeMounts: [{ name: 'state', mountPath: '/state' }] },
        proxy,
      ],
      volumes: [{ name: 'state', emptyDir: {} }],
    // Under OnFailure the Job controller counts the Pod's restarts against backoffLimit
    // and deletes the Pod when they reach it: 1 would end the Job on its one retry.
    }, 2);
    const p = await play(t, node, text, 'onfailure');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    const waited = await node.kubectl(['wait', '-n', p.namespace, '--for=condition=complete', 'job/retry', '--timeout=60s']);
    assert.equal(waited.code, 0, waited.stderr);
    const statuses = p.timeline.filter((x) => x.type === 'status');
    assert.ok(statuses.some((x) => x.container === 'main' && x.state === 'terminated 3'), 'the first run ended 3');
    assert.equal(statuses.filter((x) => x.container === 'cloud-sql-proxy').at(-1)?.restartCount, 0, 'the proxy was never restarted');
    const first = proaLines(await p.logs('main', true));
    assert.ok(!first.some((l) => /^shutdown request/.test(l.msg)), 'the failed run sent nothing: the retry needs the proxy');
    assert.deepEqual((await p.logs('cloud-sql-proxy')).filter((l) => l.includes('POST /quitquitquit')).length, 1, 'the proxy was asked once, after the second run');
    assert.ok((await p.logs('main')).includes('second run'));
  });

  void test('a sidecar that crashes under Never: proa ends 4 and names it', { timeout: 120_000 }, async (t) => {
    const text = job('crash', {
      restartPolicy: 'Never',
      containers: [proa(['--shutdown-http-post=http://127.0.0.1:9091/quitquitquit'], 'echo never'),
        { name: 'crashing', image: 'registry.example/report:3.1', command: ['sh', '-c', 'sleep 1; exit 1'], readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } }],
    });
    const p = await play(t, node, text, 'crash');
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Failed');
    assert.equal(outcome.exitCodes.main, 4, JSON.stringify(outcome.exitCodes));
    const errors = proaLines(await p.logs('main')).filter((l) => l.level === 'error').map((l) => l.msg);
    assert.ok(errors.some((m) => m.includes('crashing')), `proa's error names the sidecar: ${errors.join(' | ')}`);
  });

  void test('proa check through kubectl exec in a running Pod: the projected token, the Pod found, the sidecar ready, the shutdown endpoint answering', { timeout: 120_000 }, async (t) => {
    const text = job('check', {
      restartPolicy: 'Never',
      containers: [proa(['--shutdown-http-post=http://127.0.0.1:9091/quitquitquit'], 'while [ ! -e /tmp/done ]; do sleep 0.2; done'), proxy],
    });
    const p = await play(t, node, text, 'check');
    await p.waitFor((x) => x.type === 'status' && x.container === 'main' && x.state === 'ready');
    const check = await p.exec('main', ['/usr/local/bin/proa', 'check', '--shutdown-http-post=http://127.0.0.1:9091/quitquitquit']);
    assert.equal(check.code, 0, `proa check passed:\n${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /cloud-sql-proxy/, 'it names the sidecar');
    const token = await p.exec('main', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace']);
    assert.equal(token.stdout, p.namespace, 'the projected service-account volume as the kubelet mounts it');
    await p.exec('main', ['touch', '/tmp/done']);
    const outcome = await p.finished;
    assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome.exitCodes));
    t.diagnostic(check.stdout.trim().split('\n').slice(0, 6).join(' / '));
  });
});
