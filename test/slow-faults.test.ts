// Faults that take real time to show: a half-open watch connection (timeoutSeconds +
// 5 s), a Pod that is not found (10 s), and the reminders of a stuck wait (30 s). In a
// file of their own so that the test runner overlaps them with the rest of the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';
import { binary } from '../testbed/paths.ts';
import { Run } from './proa.ts';
import { TcpProxy } from './tcp-proxy.ts';

test('a half-open watch connection (a proxy that stops forwarding, no FIN): noticed and replaced', { timeout: 90_000 }, async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  const proxy = await TcpProxy.start('127.0.0.1', b.api.port);
  t.after(() => proxy.stop());
  const run = b.run(['--watch-timeout', '2s', '--shutdown-timeout', '0', 'true'], { KUBERNETES_SERVICE_PORT: String(proxy.port) });
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  proxy.blackhole();
  b.update((p) => running(p, 'proxy', false)); // sent into the void
  const dead = await run.waitFor(/^watch not ended by the server 7s after it opened \(timeoutSeconds 2\); connection presumed dead/);
  assert.equal(dead.level, 'warn');
  await run.waitFor('sidecar proxy: running, not ready'); // the new watch caught up
  await run.waitFor('Kubernetes API watch is healthy again');
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(proxy.connections >= 2);
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

test('a stuck wait gets a reminder after 30 s: each unready sidecar with its state and restarts, or the API problem', { timeout: 90_000 }, async (t) => {
  const pod = makePod({ name: 'stuck', containers: ['main', 'proxy', 'db'] });
  running(pod, 'proxy', false);
  running(pod, 'db', true);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  const denied = await bed(t, makePod({ name: 'denied', containers: ['main', 'proxy'] }));
  denied.api.forbid('watch');
  const run2 = denied.run(['--shutdown-timeout', '0', 'true']);
  const run3 = denied.run(['--shutdown-timeout', '0', '--log-format', 'text', 'true']);

  const r = await run.waitFor(/reminder/);
  assert.equal(r.level, 'warn');
  assert.match(r.msg, /^still waiting for the sidecars after 30s \(reminder\): sidecar proxy is not ready: running, not ready, 0 restart\(s\)\. Probe failures are in the Pod's events: kubectl describe pod stuck$/);
  assert.deepEqual(r.blocking, [{ container: 'proxy', state: 'running, not ready', restartCount: 0 }]);
  // The reminder counts up the one WaitingForSidecars Event (a series), not an Event each.
  const patch = await b.api.waitForRequest((q) => q.method === 'PATCH' && /\/apis\/events\.k8s\.io\/v1\/namespaces\/default\/events\//.test(q.path) && q.answer === 200);
  const waiting = b.api.postedEvents.filter((p) => p.event.reason === 'WaitingForSidecars');
  assert.equal(waiting.length, 1, 'one Event for the whole wait');
  assert.equal(patch.path.split('/').at(-1), waiting[0]!.event.metadata.name);
  assert.equal(waiting[0]!.event.series.count, 2);
  assert.match(String(waiting[0]!.event.series.lastObservedTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(waiting[0]!.event.note, 'waiting for sidecars to be ready: proxy, db');
  const r2 = await run2.waitFor(/reminder/);
  assert.match(r2.msg, /^still waiting for the sidecars after 30s \(reminder\): the Pod was never seen: forbidden \(cannot watch\): service account default\/proa needs get, list and watch on pods/);
  // Nothing in it is about probes, and it carries no empty fields (text logs printed `blocking={}`).
  assert.doesNotMatch(r2.msg, /Probe failures/);
  assert.equal(r2.blocking, undefined, JSON.stringify(r2));
  await new Promise<void>((resolve) => {
    const look = (): void => (run3.text.some((l) => /reminder/.test(l)) ? resolve() : void run3.child.stderr!.once('data', () => setImmediate(look)));
    look();
  });
  run3.signal('SIGTERM');
  await run3.exited;
  const line = run3.text.find((l) => /reminder/.test(l));
  assert.ok(line && !/blocking=/.test(line), run3.text.join('\n'));
  run.signal('SIGTERM');
  run2.signal('SIGTERM');
  assert.equal((await run.exited).code, 143);
  assert.equal((await run2.exited).code, 143);
});
