// The mistakes proa can see, said as what they are (issue 17, parts 2 and 3), through the
// built binary: a shutdown request refused for good, with the fix for a recognised
// sidecar; and native sidecars that are started but not ready yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bed } from './bed.ts';
import { makePod, running, terminated } from './pods.ts';
import { proa } from './proa.ts';
import { Recorder } from './recorder.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

test('a shutdown request answered 404 or 405 is a failed action, not retried, never "succeeded"; 405 names the other method', async (t) => {
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  rec.answers.set('/gone', 404);
  rec.answers.set('/post-only', 405);
  const run = proa(['--no-wait', '--shutdown-timeout', '2s', '-p', rec.url('/gone'), '-g', rec.url('/post-only'), '--', 'sh', '-c', 'exit 6']);
  assert.equal((await run.exited).code, 6, run.dump());
  assert.equal(rec.received.filter((r) => r.path === '/gone').length, 1, 'not retried');
  assert.equal(rec.received.filter((r) => r.path === '/post-only').length, 1, 'not retried');
  const refused = run.lines.filter((l) => /^shutdown request refused/.test(l.msg));
  assert.deepEqual(refused.map((l) => [l.level, l.status]).sort(), [['error', 404], ['error', 405]]);
  assert.ok(refused.some((l) => /HTTP 405\); not retrying it: the endpoint wants another method: try --shutdown-http-post/.test(l.msg)), run.dump());
  const last = run.lines.filter((l) => /did not succeed/.test(l.msg));
  assert.equal(last.length, 2, run.dump());
  assert.ok(!run.dump().includes('every shutdown action succeeded'));
});

test('a recognised sidecar that refuses the request: the error names what enables its endpoint; the last word does not claim success', async (t) => {
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  rec.answers.set('/shutdown', 404);
  const pod = makePod({ name: 'linkerd-off', containers: ['main', 'linkerd-proxy'], grace: 1 });
  const proxy = pod.spec.containers.find((c: Json) => c.name === 'linkerd-proxy');
  proxy.env = [{ name: 'LINKERD2_PROXY_ADMIN_LISTEN_ADDR', value: `0.0.0.0:${rec.port}` }];
  running(pod, 'linkerd-proxy', true);
  const b = await bed(t, pod);
  const run = b.run(['-p', rec.url('/shutdown'), '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.lines.some((l) => l.level === 'error' && l.msg === "shutdown request refused (HTTP 404); not retrying it: Linkerd's shutdown endpoint is enabled by the annotation config.linkerd.io/proxy-admin-shutdown: enabled on the Pod template"), run.dump());
  const last = run.lines.at(-1)!;
  assert.match(last.msg, /^sidecar linkerd-proxy is still running after 1000ms/);
  assert.equal(last.note, undefined, 'no "every shutdown action succeeded"');
  assert.match(String((last.actions as string[])[0]), /HTTP 404: Linkerd's shutdown endpoint is enabled by/);
});

test('a native sidecar with a readinessProbe is awaited by default (started is not ready); --ignore opts it out; the reminder-to-be names it', async (t) => {
  const pod = makePod({ name: 'native-slow', containers: ['main'], initContainers: [{ name: 'proxy', native: true }] });
  running(pod, 'proxy', false);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', '--ready-timeout', '2s', '--', 'true']);
  const found = await run.waitFor('found the Pod');
  assert.deepEqual([found.sidecars, found.nativeSidecars, found.awaitedNative], [['proxy'], ['proxy'], ['proxy']]);
  assert.equal((await run.exited).code, 5, 'not started while the native sidecar is not ready');
  assert.ok(run.lines.some((l) => l.level === 'error' && /^sidecar proxy is not ready: running, not ready, 0 restart\(s\) \(a native sidecar, awaited for its readinessProbe; .*pass --ignore proxy\)/.test(l.msg)), run.dump());
  const ignored = b.run(['--shutdown-timeout', '0', '--ignore', 'proxy', '--', 'true']);
  assert.equal((await ignored.exited).code, 0, ignored.dump());
  b.update((p) => running(p, 'proxy', true));
  const ready = b.run(['--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await ready.exited).code, 0, ready.dump());
  assert.ok(ready.has('all sidecars are ready'));
  b.update((p) => terminated(p, 'proxy', 0));
});

test('proa check: an awaited container not ready yet is a warning ("proa would wait for it"), not a failure', async (t) => {
  const pod = makePod({ name: 'check-native', containers: ['main', 'logger'], initContainers: [{ name: 'proxy', native: true }] });
  running(pod, 'proxy', false);
  running(pod, 'logger', true);
  const b = await bed(t, pod);
  const run = proa(['check', '-p', 'http://127.0.0.1:1/quit'], b.env);
  assert.equal((await run.exited).code, 0, run.stdout);
  assert.match(run.stdout, /warn +init container proxy: running, not ready - awaited \(native sidecar with a readinessProbe: its readiness\); proa would wait for it/);
  assert.match(run.stdout, /ok +container logger: ready - awaited \(regular container\)/);
});

test('Vault\'s injected agent has no probe the user can add: the warning says --ignore is safe, not "Add a readinessProbe"', async (t) => {
  const pod = makePod({ name: 'vault', containers: ['main', 'vault-agent'], probes: false });
  pod.metadata.annotations = { 'vault.hashicorp.com/agent-inject': 'true' };
  running(pod, 'vault-agent', true);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  const warned = run.lines.find((l) => l.level === 'warn' && /^sidecar vault-agent has no readinessProbe/.test(l.msg));
  assert.match(String(warned?.msg), /--ignore vault-agent is safe; with vault\.hashicorp\.com\/agent-pre-populate-only: "true" there is no agent sidecar to stop/);
  assert.doesNotMatch(String(warned?.msg), /Add a readinessProbe/);
});

async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('a loopback shutdown target refusing connections while the sidecars are ready: a wrong port, said in the run; in check a failure, with every other problem', async (t) => {
  const pod = makePod({ name: 'wrong-port', containers: ['main', 'proxy'], grace: 1 });
  pod.spec.containers.find((c: Json) => c.name === 'proxy').ports = [{ containerPort: 15021 }];
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const port = await closedPort();
  const target = `http://127.0.0.1:${port}/quitquitquit`;
  const run = b.run(['-p', target, '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  const warned = run.lines.find((l) => l.msg === 'shutdown request failed; retrying');
  assert.equal(warned?.hint, `a wrong port? nothing listens on ${port}; the Pod's containers declare or probe 8080, 15021`);

  const check = proa(['check', '-p', target, '--wait-for', 'prxy', '--log-format', 'json'], b.env);
  assert.equal((await check.exited).code, 1, check.stdout);
  const report = JSON.parse(check.stdout) as { blocking: string; problems: string[] };
  assert.equal(report.problems.length, 2, check.stdout);
  assert.match(report.blocking, /--wait-for: the Pod has no container "prxy"/);
  assert.match(report.problems[1]!, new RegExp(`POST ${target.replace(/[.?/]/g, '\\$&')}: 127\\.0\\.0\\.1:${port} refuses connections while every sidecar is ready: a wrong port\\?; the Pod's containers declare or probe 8080, 15021`));
  const text = proa(['check', '-p', target, '--wait-for', 'prxy'], b.env);
  await text.exited;
  assert.match(text.stdout.trim().split('\n').at(-1)!, /^blocking: --wait-for: the Pod has no container "prxy".* \(and 1 more problem above: 2 in all\)$/);
});
