// Watch faults that take real time to show: a half-open connection (timeoutSeconds +
// 10 s) and a Pod that is not found (10 s). In a file of their own so that the test
// runner overlaps them with the rest of the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';
import { Run, binary } from './proa.ts';

test('a stream not ended by timeoutSeconds + 10 s (half-open connection) is abandoned', { timeout: 90_000 }, async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  b.api.freezeNextWatches(1);
  const run = b.run(['--watch-timeout', '1s', '--shutdown-timeout', '0', 'true']);
  await run.waitFor(/watch not ended by the server 11s after it opened \(timeoutSeconds 1\); connection presumed dead/);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(b.watches(), 2);
});

test('a Pod that does not exist: said once after 10 s with names and sources; proa keeps waiting', { timeout: 60_000 }, async (t) => {
  const b = await bed(t, undefined, { podName: 'late-pod' });
  const run = b.run(['true']);
  const w = await run.waitFor(/^Pod not found after 10s/);
  assert.deepEqual([w.pod, w.podSource, w.namespace, w.namespaceSource], ['late-pod', 'POD_NAME', 'default', 'POD_NAMESPACE']);
  assert.equal(w.hint, undefined);
  const pod = makePod({ name: 'late-pod', containers: ['main'] });
  b.api.putPod(pod);
  assert.equal((await run.exited).code, 0, run.dump());
});

test('the 63-character hostname hint when the Pod name came from a cut hostname', { timeout: 60_000 }, async (t) => {
  const host = 'a-very-long-job-name-that-kubernetes-generated-for-this-pod-abc';
  assert.equal(host.length, 63);
  const b = await bed(t, undefined, { podName: host });
  const env = { ...b.env, POD_NAME: '', PROA: binary };
  const run = new Run('unshare', ['--uts', 'sh', '-c', `hostname ${host} && exec "$PROA" true`], { PATH: process.env.PATH ?? '', PROA_LOG: 'debug', ...env });
  t.after(() => run.child.kill('SIGKILL'));
  const w = await run.waitFor(/^Pod not found/);
  assert.equal(w.podSource, 'hostname');
  assert.match(String(w.hint), /63 characters.*downward API/);
});

