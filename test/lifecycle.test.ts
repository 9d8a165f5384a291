// The whole lifecycle through the built binary against the fake API server: wait for
// the sidecars, run, shut down, wait for exit; every failure path and exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { makePod, running, terminated, restarted } from './pods.ts';
import { otherCa } from '../testbed/api/certs.ts';
import { tempDir, binary } from '../testbed/paths.ts';
import { Run } from './proa.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

test('waits for the sidecar, runs the command, shuts down, waits for exit: one API request for the Pod (its Events apart: e2e-events)', async (t) => {
  const pod = makePod({ name: 'report-job-x1', namespace: 'batch', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  const marker = join(tempDir(), 'ran');
  const run = b.run(['-p', b.rec.url('/quitquitquit'), '--', 'sh', '-c', `touch ${marker}; exit 3`]);
  await run.waitFor('waiting for the sidecars to be ready');
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  b.update((p) => running(p, 'proxy', false));
  await run.waitFor('sidecar proxy: running, not ready');
  assert.throws(() => readFileSync(marker), 'not started before the sidecar is ready');
  b.rec.once('request', () => b.update((p) => terminated(p, 'proxy', 0)));
  b.update((p) => running(p, 'proxy', true));
  assert.deepEqual(await run.exited, { code: 3, signal: null }, run.dump());
  readFileSync(marker);
  assert.deepEqual(b.rec.received.map((r) => `${r.method} ${r.path}`), ['POST /quitquitquit']);
  await run.waitFor('1/1 sidecars exited');
  const order = ['all sidecars are ready', 'command started', 'command exited', 'shutdown request answered', '1/1 sidecars exited']
    .map((m) => run.lines.findIndex((l) => l.msg === m));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'lifecycle order');

  assert.equal(b.api.podRequests.length, 1, 'a single watch in a fault-free run');
  const w = b.api.podRequests[0]!;
  assert.equal(w.path, '/api/v1/namespaces/batch/pods');
  assert.deepEqual(w.query, { watch: 'true', fieldSelector: 'metadata.name=report-job-x1', allowWatchBookmarks: 'true', timeoutSeconds: '50' });
  assert.equal(w.authorization, `Bearer ${b.api.token}`);
  assert.equal(w.accept, 'application/json');
  assert.equal(w.userAgent, `proa/${pkg.version}`);
  const found = run.lines.find((l) => l.msg === 'watching this Pod')!;
  assert.equal(found.podSource, 'POD_NAME');
  assert.equal(found.namespaceSource, 'POD_NAMESPACE');
  assert.equal(run.lines.find((l) => l.msg === 'found the Pod')!.containerRule, 'first container in the spec');
});

test('identity: --pod/--namespace win; namespace file and hostname are the fallbacks; --container decides', async (t) => {
  const pod = makePod({ name: 'flagged', namespace: 'team-a', containers: ['sidecar', 'worker'] });
  running(pod, 'sidecar', true);
  const b = await bed(t, pod);
  const run = b.run(['--pod', 'flagged', '--container', 'worker', '--shutdown-timeout', '0', 'true'], { POD_NAME: 'wrong', POD_NAMESPACE: '' });
  assert.equal((await run.exited).code, 0, run.dump());
  const w = run.lines.find((l) => l.msg === 'watching this Pod')!;
  assert.deepEqual([w.pod, w.podSource, w.namespace, w.namespaceSource], ['flagged', '--pod', 'team-a', join(b.saDir, 'namespace')]);
  const f = run.lines.find((l) => l.msg === 'found the Pod')!;
  assert.deepEqual([f.container, f.containerRule, f.sidecars], ['worker', '--container', ['sidecar']]);
});

test('not in Kubernetes: exit 3 naming --no-wait, shutdown actions still run', async (t) => {
  const b = await bed(t, makePod({ name: 'p', containers: ['main', 's'] }));
  const r1 = new Run(binary, ['-g', b.rec.url('/quit'), 'touch', '/nonexistent/never'], { PATH: process.env.PATH ?? '' });
  assert.equal((await r1.exited).code, 3, r1.dump());
  assert.ok(r1.lines.some((l) => l.level === 'error' && /not running in Kubernetes.*--no-wait.*PROA_DISABLED/.test(l.msg)));
  const r2 = b.run(['-g', b.rec.url('/quit2'), 'true'], { PROA_SERVICEACCOUNT_DIR: tempDir() });
  assert.equal((await r2.exited).code, 3, r2.dump());
  assert.ok(r2.lines.some((l) => /no service-account token/.test(l.msg)));
  for (const r of [r1, r2]) assert.match(r.lines.at(-1)!.msg, /^exit 3 is proa's, not the program's: no Kubernetes API access/, r.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path).sort(), ['/quit', '/quit2']);
});

test('a name the Pod spec lacks: exit 2 when the spec is seen, command not run, shutdown actions run', async (t) => {
  for (const args of [['--wait-for', 'prxy'], ['--ignore', 'ghost'], ['--container', 'mian']]) {
    const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
    running(pod, 'proxy', true);
    const b = await bed(t, pod);
    b.rec.once('request', () => b.update((p) => terminated(p, 'proxy', 0)));
    const run = b.run([...args, '-g', b.rec.url('/quit'), 'touch', '/nonexistent/never']);
    assert.equal((await run.exited).code, 2, run.dump());
    const err = run.lines.find((l) => l.level === 'error')!;
    assert.match(err.msg, new RegExp(`${args[0]}: the Pod has no container "${args[1]}"; its containers are main, proxy`));
    assert.ok(!run.has('command started'));
    assert.equal(b.rec.received.length, 1);
    assert.ok(run.has('1/1 sidecars exited'), 'every regular container but its own is awaited for exit');
    const waiting = run.lines.find((l) => l.msg === 'waiting for the sidecars to exit')!;
    assert.match(String(waiting.because), /^the Pod spec could not be followed \(.*the Pod has no container.*\), so every regular container but proa's own is awaited$/);
    assert.equal(waiting.bound, "the Pod's terminationGracePeriodSeconds");
  }
});

test('an awaited sidecar terminated for good: exit 4, named with its exit code; restart hint for OnFailure', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'], restartPolicy: 'Never' });
  terminated(pod, 'proxy', 1);
  const b = await bed(t, pod);
  const run = b.run(['-p', b.rec.url('/quit'), 'touch', '/nonexistent/never']);
  assert.equal((await run.exited).code, 4, run.dump());
  const err = run.lines.find((l) => l.level === 'error')!;
  assert.match(err.msg, /sidecar proxy terminated and will not be restarted/);
  assert.equal(err.exitCode, 1);
  assert.equal(b.rec.received.length, 1);

  const again = makePod({ name: 'q', containers: ['main', 'proxy'], restartPolicy: 'OnFailure' });
  terminated(again, 'proxy', 0);
  restarted(again, 'main', 1);
  running(again, 'main', true);
  const b2 = await bed(t, again);
  const run2 = b2.run(['true']);
  assert.equal((await run2.exited).code, 4, run2.dump());
  assert.match(String(run2.lines.find((l) => l.level === 'error')!.hint), /restarted 1 time.*restartPolicy: Never/);
});

test('--ready-timeout: exit 5, each container that is not ready logged with its state', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b'] });
  running(pod, 'a', false);
  const b = await bed(t, pod);
  b.rec.once('request', () => b.update((p) => { terminated(p, 'a', 0); terminated(p, 'b', 0); }));
  const run = b.run(['--ready-timeout', '500ms', '-g', b.rec.url('/quit'), 'true']);
  assert.equal((await run.exited).code, 5, run.dump());
  const lines = run.lines.filter((l) => l.level === 'error').map((l) => l.msg);
  assert.ok(lines.includes('sidecar a is not ready: running, not ready, 0 restart(s)'), lines.join('\n'));
  assert.ok(lines.includes('sidecar b is not ready: waiting (ContainerCreating), 0 restart(s)'));
  assert.equal(b.rec.received.length, 1);
  assert.ok(run.has('2/2 sidecars exited'));
});

test('TERM while waiting: command never starts, shutdown actions run, exit 143; USR1 is ignored', async (t) => {
  const b = await bed(t, makePod({ name: 'p', containers: ['main', 'proxy'] }));
  b.rec.once('request', () => b.update((p) => terminated(p, 'proxy', 0)));
  const run = b.run(['-g', b.rec.url('/quit'), 'touch', '/nonexistent/never']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  run.signal('SIGUSR1');
  await run.waitFor('ignoring signal: no command is running');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 143, run.dump());
  assert.equal(b.rec.received.length, 1);
  assert.ok(!run.has('command started'));
  assert.ok(run.has('1/1 sidecars exited'));
});

test('a second TERM while proa waits for the sidecars to exit after an early stop ends the wait at once', async (t) => {
  const b = await bed(t, makePod({ name: 'p', containers: ['main', 'proxy'] }));
  const run = b.run(['-g', b.rec.url('/quit'), '--shutdown-timeout', '10m', 'touch', '/nonexistent/never']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  run.signal('SIGTERM');
  await run.waitFor('waiting for the sidecars to exit');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 143, run.dump());
  assert.ok(run.has('stopped waiting for the sidecars to exit'));
  assert.ok(!run.lines.some((l) => /still running after/.test(l.msg)), 'no last word: the kubelet is stopping the Pod');
});

test('the Pod deleted while waiting: exit 6, also when TERM arrives with it', async (t) => {
  const b = await bed(t, makePod({ name: 'p', containers: ['main', 'proxy'] }));
  const run = b.run(['-g', b.rec.url('/quit'), 'true']);
  await run.waitFor('waiting for the sidecars to be ready');
  b.api.beginDelete(b.namespace, b.name);
  assert.equal((await run.exited).code, 6, run.dump());
  assert.equal(b.rec.received.length, 1);

  const b2 = await bed(t, makePod({ name: 'q', containers: ['main', 'proxy'] }));
  b2.rec.answers.set('/slow', 'hang');
  const run2 = b2.run(['--shutdown-http-timeout', '2s', '-g', b2.rec.url('/slow'), 'true']);
  await run2.waitFor('waiting for the sidecars to be ready');
  run2.signal('SIGTERM');
  await new Promise((resolve) => b2.rec.once('request', resolve));
  b2.api.beginDelete(b2.namespace, b2.name);
  assert.equal((await run2.exited).code, 6, `deletion seen before exit wins over 143\n${run2.dump()}`);
});

test('resumes from the last resourceVersion (bookmarks included) when the server ends a watch', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  const b = await bed(t, pod, { bookmarkIntervalMs: 200 });
  const run = b.run(['--watch-timeout', '1s', 'true']);
  await b.api.waitForRequest(() => b.watches() >= 3);
  const [first, second, third] = b.api.podRequests;
  assert.equal(first!.query.resourceVersion, undefined);
  assert.equal(first!.query.timeoutSeconds, '1');
  assert.ok(second!.query.resourceVersion, 'resumed with a version');
  assert.ok(third!.query.resourceVersion);
  assert.equal(third!.query.resourceVersion, b.api.resourceVersion, 'the latest version: a bookmark, since the Pod did not change');
  b.update((p) => running(p, 'proxy', true));
  await run.waitFor('command started');
  assert.ok(!run.lines.some((l) => l.level === 'warn' || l.level === 'error'), run.dump());
});

for (const mode of ['event', 'http'] as const) {
  test(`410 Gone (${mode === 'event' ? 'ERROR event in a 200' : 'HTTP status'}): start afresh without a resourceVersion`, async (t) => {
    const b = await bed(t, makePod({ name: 'p', containers: ['main', 'proxy'] }), { expired: mode });
    const run = b.run(['--watch-timeout', '1s', '--shutdown-timeout', '0', 'true']);
    await run.waitFor('waiting for the sidecars to be ready');
    b.update((p) => running(p, 'proxy', false));
    await run.waitFor('sidecar proxy: running, not ready');
    b.api.compact();
    const expired = await b.api.waitForRequest((r) => r.query.resourceVersion !== undefined);
    const fresh = await b.api.waitForRequest((r) => r.at > expired.at && r.query.resourceVersion === undefined);
    assert.equal(fresh.answer, 'watch');
    await run.waitFor(/resourceVersion expired \(/);
    b.update((p) => running(p, 'proxy', true));
    assert.equal((await run.exited).code, 0, run.dump());
  });
}

test('errors back off with jitter, honour Retry-After, and are logged once each', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  b.api.failNext({ status: 500 }, { status: 500 }, { status: 500 }, { status: 429, retryAfterSeconds: 1 }, { status: 503 });
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  const reqs = b.api.podRequests;
  assert.deepEqual(reqs.map((r) => r.answer), [500, 500, 500, 429, 503, 'watch']);
  assert.ok(reqs[4]!.at - reqs[3]!.at >= 1000, 'Retry-After is a floor');
  const warned = run.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.deepEqual(warned, [
    'the API server answered 500 InternalError. Retrying.',
    'the API server answered 429 TooManyRequests. Retrying.',
    'the API server answered 503 ServiceUnavailable. Retrying.',
  ]);
});

test('403: names the service account, verbs, resource and namespace; keeps retrying until RBAC lands', async (t) => {
  const pod = makePod({ name: 'p', namespace: 'jobs', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  b.api.forbid('watch');
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  const err = await run.waitFor((l) => l.level === 'error');
  assert.match(err.msg, /service account jobs\/proa needs get, list and watch on pods in namespace jobs.*RBAC section of the README/);
  await b.api.waitForRequest((r) => r.answer === 403, 1);
  b.api.forbid();
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(run.lines.filter((l) => l.level === 'error').length, 1, 'logged once, not per retry');
  await run.waitFor('Kubernetes API watch is healthy again');
});

test('403 without a subject in the message: the service account comes from the token\'s claims', async (t) => {
  const pod = makePod({ name: 'p', namespace: 'team-b', containers: ['main'] });
  const b = await bed(t, pod);
  b.api.failNext({ status: 403, message: 'access denied by policy' });
  const run = b.run(['true']);
  const err = await run.waitFor((l) => l.level === 'error');
  assert.match(err.msg, /service account team-b\/proa needs get, list and watch on pods in namespace team-b/);
  assert.equal((await run.exited).code, 0, run.dump());
});

test('401: retried once at once with the token read afresh (the kubelet rotated it)', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  const run = b.run(['--watch-timeout', '1s', '--shutdown-timeout', '0', 'true']);
  await run.waitFor('waiting for the sidecars to be ready');
  const stale = b.api.token;
  b.api.rotateToken(false);
  const fresh = b.api.token;
  // The kubelet writes the new token just as the server starts refusing the old one.
  b.api.once('request', () => writeFileSync(join(b.saDir, 'token'), fresh));
  const retried = await b.api.waitForRequest((r) => r.authorization === `Bearer ${fresh}` && b.api.podRequests.includes(r));
  const refused = b.api.podRequests[b.api.podRequests.indexOf(retried) - 1]!;
  assert.equal(refused.answer, 401);
  assert.equal(refused.authorization, `Bearer ${stale}`);
  assert.equal(retried.answer, 'watch');
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0);
  assert.ok(!run.lines.some((l) => l.level === 'error'), 'a rotation is not an error');
});

test('401 twice in a row is a retryable error, logged once; recovers when the token file is renewed', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  b.api.rotateToken(false);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  await run.waitFor(/rejected the service-account token \(401\)/);
  writeFileSync(join(b.saDir, 'token'), b.api.token);
  assert.equal((await run.exited).code, 0, run.dump());
});

test('TLS is verified against ca.crt only, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async (t) => {
  const b = await bed(t, makePod({ name: 'p', containers: ['main'] }));
  writeFileSync(join(b.saDir, 'ca.crt'), otherCa());
  const run = b.run(['-g', b.rec.url('/quit'), 'touch', '/nonexistent/never'], { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
  await run.waitFor(/cannot verify the API server's certificate/);
  assert.equal(b.api.requests.length, 0, 'no request reached the server');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 143);
});

test('a stream that ends within a second, or sends a line that is not JSON, is a retryable error', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  b.api.closeNextWatches(1);
  b.api.garbageNextWatches(1);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  await run.waitFor(/watch stream ended after \d+ms/);
  await run.waitFor(/not JSON/);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0, run.dump());
});

test('after the command: progress, and on timeout the sidecars still running', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a', 'b'], grace: 1 });
  running(pod, 'a', true);
  running(pod, 'b', true);
  const b = await bed(t, pod);
  b.rec.once('request', () => b.update((p) => terminated(p, 'a', 0)));
  const run = b.run(['-p', b.rec.url('/quit'), 'sh', '-c', 'exit 9']);
  assert.equal((await run.exited).code, 9, run.dump());
  await run.waitFor('1/2 sidecars exited');
  const timeout = await run.waitFor(/^sidecar b is still running after 1000ms \(--shutdown-timeout\): the Pod will not complete on its own/);
  assert.equal(timeout.level, 'error');
  assert.deepEqual(timeout.actions, [`POST ${b.rec.url('/quit')}: done`]);
  assert.equal(run.lines.at(-1), timeout, 'the last word');
});

test('TERM during the wait for sidecars to exit ends it at once, with the command\'s code', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a'] });
  running(pod, 'a', true);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '10m', 'sh', '-c', 'exit 4']);
  await run.waitFor('waiting for the sidecars to exit');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 4);
  await run.waitFor('stopped waiting for the sidecars to exit');
});

test('TERM while the command runs is forwarded; the sidecars are still shut down', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a'] });
  running(pod, 'a', true);
  const b = await bed(t, pod);
  b.rec.once('request', () => b.update((p) => terminated(p, 'a', 0)));
  const run = b.run(['-g', b.rec.url('/quit'), join(import.meta.dirname, 'bin', 'trap.sh')]);
  await run.waitForStdout('ready');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 42, run.dump());
  assert.equal(b.rec.received.length, 1);
  await run.waitFor('1/1 sidecars exited');
});

test('OnFailure and a failed command: sidecars left up for the retry, unless --shutdown-on-failure', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a'], restartPolicy: 'OnFailure' });
  running(pod, 'a', true);
  const b = await bed(t, pod);
  const run = b.run(['-g', b.rec.url('/quit'), 'sh', '-c', 'exit 1']);
  assert.equal((await run.exited).code, 1);
  assert.equal(b.rec.received.length, 0);
  await run.waitFor(/the command exited 1 and the Pod's restartPolicy OnFailure restarts this container: the sidecars stay up for the retry/);

  b.rec.once('request', () => b.update((p) => restarted(p, 'a', 143)));
  const run2 = b.run(['--shutdown-on-failure', '-g', b.rec.url('/quit'), 'sh', '-c', 'exit 1']);
  assert.equal((await run2.exited).code, 1);
  assert.equal(b.rec.received.length, 1);
  const warn = await run2.waitFor((l) => l.level === 'warn' && /sidecar a exited with code 143 \(Error\) and the Pod's restartPolicy OnFailure starts it again/.test(l.msg));
  assert.match(warn.msg, /will not complete/);
});

test('a native sidecar named in --wait-for: readiness from initContainerStatuses, never awaited for exit', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'worker'], initContainers: [{ name: 'init' }, { name: 'mesh', native: true }] });
  terminated(pod, 'init', 0);
  running(pod, 'worker', true);
  const b = await bed(t, pod);
  b.rec.once('request', () => b.update((p) => terminated(p, 'worker', 0)));
  const run = b.run(['--wait-for', 'mesh', '--wait-for', 'worker', '-g', b.rec.url('/quit'), 'true']);
  await run.waitFor('sidecar mesh: waiting (ContainerCreating)');
  b.update((p) => running(p, 'mesh', true));
  assert.equal((await run.exited).code, 0, run.dump());
  const waiting = run.lines.find((l) => l.msg === 'waiting for the sidecars to exit')!;
  assert.deepEqual(waiting.sidecars, ['worker']);
});

test('IPv6: KUBERNETES_SERVICE_HOST=::1', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main'] });
  let b;
  try {
    b = await bed(t, pod, { host: '::1' });
  } catch {
    t.skip('no IPv6 loopback here');
    return;
  }
  const run = b.run(['true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(run.lines.find((l) => l.msg === 'watching this Pod')!.api, `https://[::1]:${b.api.port}`);
});

test('a watch stream cut into one-byte chunks, inside every UTF-8 sequence: decoded intact', async (t) => {
  const message = 'Zürich – 東京 – 😀 – ünïcødé';
  const pod = makePod({ name: 'p', containers: ['main', 'proxy'] });
  pod.status.containerStatuses.find((c: { name: string }) => c.name === 'proxy').state = { waiting: { reason: 'ImagePullBackOff', message } };
  const b = await bed(t, pod, { splitChunks: 'bytes' });
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  const line = await run.waitFor('sidecar proxy: waiting (ImagePullBackOff)');
  assert.equal(line.message, message);
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0, run.dump());
});

test('a view from before this run (its own container terminated, the Pod restarting every container): no sidecar counts as ready until a status of this run', async (t) => {
  const pod = makePod({ name: 'p', containers: ['main', 'a'] });
  running(pod, 'a', true);
  terminated(pod, 'main', 42);
  pod.status.conditions = [{ type: 'AllContainersRestarting', status: 'True' }];
  const b = await bed(t, pod);
  // While the stale view stands, the sidecar's `ready` is the killed one's: the wait times out.
  const stale = b.run(['--ready-timeout', '1s', '-g', b.rec.url('/quit'), 'true']);
  assert.equal((await stale.exited).code, 5, stale.dump());
  assert.ok(!stale.lines.some((l) => l.msg === 'command started'));
  b.update((p) => { p.status.conditions = [{ type: 'AllContainersRestarting', status: 'False' }]; });
  const still = b.run(['--ready-timeout', '1s', '-g', b.rec.url('/quit'), 'true']);
  assert.equal((await still.exited).code, 5, 'proa\'s own container still terminated: still the old run\'s view');
  // A status of this run: proa's container running. Now the sidecar's readiness counts.
  b.update((p) => running(p, 'main', false));
  b.rec.once('request', () => b.update((p) => terminated(p, 'a', 0)));
  const fresh = b.run(['--ready-timeout', '5s', '-g', b.rec.url('/quit'), 'true']);
  assert.equal((await fresh.exited).code, 0, fresh.dump());
});
