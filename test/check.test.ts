// `proa check` on both API back ends: all good, and each thing that would stop proa
// (no RBAC, a Role without watch, the wrong CA, a rejected token, the Pod not found) or
// that it warns about (a sidecar without a readiness probe, a closed shutdown port).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { otherCa } from '../testbed/api/certs.ts';
import { documentedRbac, RealKubeletApi, realAccess, type Backend } from '../testbed/simulator/kubelet-api.ts';
import { backends } from './e2e.ts';
import { makePod, running } from './pods.ts';
import { binary, tempDir } from '../testbed/paths.ts';
import { proa, Run } from './proa.ts';
import { Recorder } from './recorder.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

interface Setup { rbac: 'full' | 'none' | 'no-watch'; pod?: Json; podName?: string }
interface Place { env: Record<string, string>; saDir: string }

async function place(t: TestContext, api: Backend, s: Setup): Promise<Place> {
  const pod = s.pod ?? makePod({ name: 'job-x', containers: ['main', 'proxy'] });
  if (api === 'fake') {
    const b = await bed(t, pod);
    if (s.rbac === 'none') b.api.forbid('get', 'list', 'watch');
    if (s.rbac === 'no-watch') b.api.forbid('watch');
    return { env: { ...b.env, POD_NAME: s.podName ?? pod.metadata.name }, saDir: b.saDir };
  }
  const kube = new RealKubeletApi(realAccess()!, `check-${Math.random().toString(16).slice(2, 8)}`);
  const status = pod.status;
  await kube.createPod(pod, { rbac: false });
  if (s.rbac === 'full') await kube.applyRbac();
  if (s.rbac === 'no-watch') await kube.applyRbac(documentedRbac().map((d) => (d.kind === 'Role' ? { ...d, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } : d)));
  kube.writeStatus(status);
  await kube.settled();
  const saDir = await kube.mountServiceAccount(join(tempDir(), 'sa'));
  return { env: { ...kube.clusterEnv(saDir), POD_NAME: s.podName ?? pod.metadata.name, POD_NAMESPACE: kube.namespace, PROA_LOG: 'debug' }, saDir };
}

async function check(p: Place, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; last: string; run: Run }> {
  const run = proa(['check', ...args], { ...p.env, ...env });
  const { code } = await run.exited;
  return { code, out: run.stdout, last: run.stdout.trim().split('\n').at(-1)!, run };
}

for (const api of backends) {
  const named = (s: string): string => `proa check: ${s} [${api} API server]`;

  test(named('all good: exit 0, every section, and one JSON document when asked'), { timeout: 60_000 }, async (t) => {
    const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'] });
    running(pod, 'proxy', true);
    const p = await place(t, api, { rbac: 'full', pod });
    const rec = await Recorder.start();
    t.after(() => rec.stop());
    const r = await check(p, ['-p', rec.url('/quitquitquit')]);
    assert.equal(r.code, 0, r.out + r.run.dump());
    assert.match(r.out, /^proa check, with its own options and environment/);
    assert.match(r.out, /TLS verified against ca\.crt; token accepted; Kubernetes v1\.37\.2/);
    assert.match(r.out, /may get, list and watch pods/);
    assert.match(r.out, /container proxy: ready - awaited \(regular container\)/);
    assert.match(r.out, /POST http:\/\/127\.0\.0\.1:\d+\/quitquitquit: 127\.0\.0\.1:\d+ accepting connections/);
    assert.match(r.last, /^proa would work here/);
    assert.equal(rec.received.length, 0, 'check never sends a shutdown request');
    const j = await check(p, ['-p', rec.url('/quitquitquit'), '--log-format', 'json']);
    const doc = JSON.parse(j.out) as { ok: boolean; findings: { section: string; status: string }[] };
    assert.equal(doc.ok, true);
    assert.ok(doc.findings.some((f) => f.section === 'rbac' && f.status === 'ok'));
  });

  test(named('no RBAC, and a Role without watch: exit 1 with the Role and RoleBinding to apply'), { timeout: 60_000 }, async (t) => {
    const none = await check(await place(t, api, { rbac: 'none' }));
    assert.equal(none.code, 1, none.out);
    assert.match(none.last, /^blocking: service account \S+\/proa may not get, list, watch pods in namespace/);
    assert.match(none.out, /kind: RoleBinding[\s\S]*name: proa/);
    const noWatch = await check(await place(t, api, { rbac: 'no-watch' }));
    assert.equal(noWatch.code, 1);
    assert.match(noWatch.last, /^blocking: service account \S+\/proa may not watch pods/);
  });

  test(named('the wrong CA, a rejected token, the Pod not found: exit 1, each named'), { timeout: 60_000 }, async (t) => {
    const p = await place(t, api, { rbac: 'full' });
    const badCa = tempDir();
    cpSync(p.saDir, badCa, { recursive: true });
    writeFileSync(join(badCa, 'ca.crt'), otherCa());
    const ca = await check(p, [], { PROA_SERVICEACCOUNT_DIR: badCa });
    assert.equal(ca.code, 1);
    assert.match(ca.last, /^blocking: https:\/\/\S+: TLS not verified against .*ca\.crt: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    const badToken = tempDir();
    cpSync(p.saDir, badToken, { recursive: true });
    writeFileSync(join(badToken, 'token'), 'not-a-valid-token');
    const token = await check(p, [], { PROA_SERVICEACCOUNT_DIR: badToken });
    assert.equal(token.code, 1);
    assert.match(token.last, /token was rejected \(401\)/);
    const missing = await check(p, [], { POD_NAME: 'no-such-pod' });
    assert.equal(missing.code, 1);
    assert.match(missing.last, /^blocking: Pod no-such-pod not found in namespace \S+ \(404\): name from POD_NAME, namespace from POD_NAMESPACE/);
  });

  test(named('restart rules: a sidecar its own restartPolicy starts again fails the check with the fix; a Cloud SQL proxy killed without --exit-zero-on-sigterm is a warning'), { timeout: 60_000 }, async (t) => {
    const pod = makePod({ name: 'job-x', containers: ['main', 'proxy', 'cloud-sql-proxy'] });
    pod.spec.containers[1].restartPolicy = 'Always';
    Object.assign(pod.spec.containers[2], { image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2', args: ['--quitquitquit', 'p:r:i'] });
    const p = await place(t, api, { rbac: 'full', pod });
    const r = await check(p, ['--kill', 'cloud-sql-proxy']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /fail +sidecar proxy: its restartPolicy Always restarts it after exit code 0 or exit code 143 \(after --kill-signal, unhandled\), .*the kubelet starts it again and the Job never completes\. Give it restartPolicy: Never/);
    assert.match(r.out, /warn +sidecar cloud-sql-proxy \(Cloud SQL Auth Proxy\) is stopped by --kill's SIGTERM and not started with --exit-zero-on-sigterm: it will exit 143/);
    assert.match(r.last, /^blocking: sidecar proxy: its restartPolicy Always/);
  });

  test(named("the readiness probes proa runs itself, and those it leaves to the kubelet; --ready-by kubelet"), { timeout: 60_000 }, async (t) => {
    const pod = makePod({ name: 'job-x', containers: ['main', 'proxy', 'agent'] });
    pod.spec.containers[2].readinessProbe = { exec: { command: ['true'] } };
    pod.status.podIP = '10.1.2.3';
    const p = await place(t, api, { rbac: 'full', pod });
    const r = await check(p);
    assert.match(r.out, /info +sidecar proxy: proa probes its readiness too \(GET http:\/\/10\.1\.2\.3:8080\/ready\), and starts the program when that passes or the kubelet says ready/);
    assert.match(r.out, /info +sidecar agent: readiness by the kubelet only \(an exec probe runs inside the sidecar: the kubelet's probe alone\)/);
    const byKubelet = await check(p, ['--ready-by', 'kubelet']);
    assert.match(byKubelet.out, /info +sidecar proxy: ready when the kubelet says so \(--ready-by kubelet\)/);
  });

  test(named('a sidecar without a readiness probe and a closed shutdown port: warnings, exit 0'), { timeout: 60_000 }, async (t) => {
    const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'], probes: false });
    const p = await place(t, api, { rbac: 'full', pod });
    const r = await check(p, ['-p', 'http://127.0.0.1:1/quitquitquit']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /warn +sidecar proxy has no readinessProbe/);
    assert.match(r.out, /warn +POST http:\/\/127\.0\.0\.1:1\/quitquitquit: 127\.0\.0\.1:1 not accepting connections now \(ECONNREFUSED\)/);
    assert.match(r.out, /warn +container proxy: waiting \(ContainerCreating\) - awaited \(regular container\); proa would wait for it/);
    assert.match(r.last, /^proa would work here \(3 warnings above\)/);
  });
}

test('proa check: bad options exit 2; a command is refused; `proa -- check` runs a program named check', async () => {
  const bad = proa(['check', '--shutdown-timeout', 'soon']);
  assert.equal((await bad.exited).code, 2);
  const cmd = proa(['check', 'true']);
  assert.equal((await cmd.exited).code, 2);
  assert.match(cmd.text.join('\n'), /check takes options only, not a command .*proa -- check/);
  const dir = tempDir();
  writeFileSync(join(dir, 'check'), '#!/bin/sh\necho "the program named check ran"\n', { mode: 0o755 });
  const run = proa(['--no-wait', '--', 'check'], { PATH: `${dir}:${process.env.PATH}` });
  assert.equal((await run.exited).code, 0);
  assert.equal(run.stdout, 'the program named check ran\n');
});

test('proa check without options takes those of the proa that runs as PID 1, and says so', { timeout: 60_000 }, async (t) => {
  const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  // proa as PID 1 of a PID namespace, waiting in its command, as in a container.
  const holder = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', binary,
    '--shutdown-timeout', '0', '-g', 'http://127.0.0.1:1/from-pid-one', '--', 'sleep', '30'], { PATH: process.env.PATH ?? '', PROA_LOG: 'debug', ...b.env });
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.waitFor('command started');
  const inner = Number(readFileSync(`/proc/${holder.child.pid}/task/${holder.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  // `kubectl exec … -- proa check`: the same PID and mount namespaces, an environment of its own.
  const run = new Run('nsenter', ['-t', String(inner), '-p', '-m', binary, 'check'], { PATH: process.env.PATH ?? '' });
  await run.exited;
  assert.match(run.stdout, /^proa check, with options and environment of PID 1 \(--shutdown-http-get http:\/\/127\.0\.0\.1:1\/from-pid-one --shutdown-timeout 0ms[ )]/, run.stdout + run.dump());
  assert.match(run.stdout, /GET http:\/\/127\.0\.0\.1:1\/from-pid-one/);
  assert.match(run.stdout, /Pod job-x \(from POD_NAME\)/, 'PID 1\'s environment, not its own (which has no POD_NAME)');
});

test('proa check in a shared process namespace (PID 1 the pause): the running proa of its own container, by its mount namespace', { timeout: 60_000 }, async (t) => {
  const pod = makePod({ name: 'job-shared', containers: ['main', 'other', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const env = Object.entries({ ...b.env, PATH: process.env.PATH ?? '' }).map(([k, v]) => `${k}=${v}`);
  // PID 1 a shell (the pause); main's proa in this mount namespace; another container's
  // proa in a mount namespace of its own; then `kubectl exec -c main -- proa check`.
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'env', ...env, 'bash', '-c', [
    `unshare --mount "${binary}" --no-wait --shutdown-timeout 0 -g http://127.0.0.1:1/other -- sleep 300 2>/dev/null &`,
    `"${binary}" --no-wait --shutdown-timeout 0 -g http://127.0.0.1:1/mine -- sleep 300 2>/dev/null &`,
    'while [ $(pgrep -c sleep) -lt 2 ]; do sleep 0.05; done',
    `env -i PATH="$PATH" "${binary}" check; kill %1 %2`,
  ].join('\n')], { PATH: process.env.PATH ?? '' });
  t.after(() => run.child.kill('SIGKILL'));
  await run.exited;
  assert.match(run.stdout, /^proa check, with options and environment of PID \d+ \(--shutdown-http-get http:\/\/127\.0\.0\.1:1\/mine /, run.stdout);
  assert.match(run.stdout, /Pod job-shared \(from POD_NAME\)/, 'the running proa\'s environment');
});

test('proa check outside a cluster: the identity says where each name came from, and why the API cannot be used', async () => {
  const run = proa(['check'], { PROA_SERVICEACCOUNT_DIR: join(tempDir(), 'none'), POD_NAME: 'p1' });
  assert.equal((await run.exited).code, 1, run.stdout + run.dump());
  assert.match(run.stdout, /ok +Pod p1 \(from POD_NAME\), namespace default \(no --namespace, POD_NAMESPACE or \S+\/none\/namespace: the default\)/, run.stdout);
  assert.doesNotMatch(run.stdout, /\(from default \(no/);
  assert.match(run.stdout, /fail +cannot use the Kubernetes API: KUBERNETES_SERVICE_HOST is not set/);
});

test('proa check beside another Pod\'s proa in sight (a test bed, a node\'s host namespaces): its own environment, not the stranger\'s', { timeout: 60_000 }, async (t) => {
  const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  // The same mount namespace, but an environment that names no API server: not this Pod's proa.
  const stranger = proa(['--no-wait', '--shutdown-timeout', '0', '-g', 'http://127.0.0.1:1/stranger', '--', 'sleep', '300'], { PROA_LOG: 'debug' });
  t.after(async () => {
    stranger.child.kill('SIGTERM');
    await stranger.exited;
  });
  await stranger.waitFor('command started');
  const r = proa(['check'], { ...b.env, POD_NAME: 'job-x' });
  await r.exited;
  assert.match(r.stdout, /^proa check, with its own options and environment/, r.stdout);
  assert.doesNotMatch(r.stdout, /stranger/);
  assert.match(r.stdout, /may get, list and watch pods/);
});
