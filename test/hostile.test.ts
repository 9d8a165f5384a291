// proa against a hostile neighbourhood, through the built binary: an API server that
// answers nonsense (wrong types, endless lines and bodies, deep nesting), huge values on
// the command line and in the spec, a Pod whose PID namespace proa shares with its
// parents, and secrets that must not leave proa. Each test reproduces one item of the
// hardening review (docs/reliability.md lists them) and failed before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { closeSync, constants, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { makePod, running, terminated } from './pods.ts';
import { binary, tempDir } from '../testbed/paths.ts';
import { proa, Run } from './proa.ts';
import { Recorder } from './recorder.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

const unshareWorks = ((): boolean => {
  try {
    execFileSync('unshare', ['--pid', '--net', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const ns = unshareWorks ? {} : { skip: 'unshare --pid --net needs root' };

/** TCP ports a process listens on, from its sockets and /proc/net. */
function listening(pid: number): string[] {
  const sockets = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; }
  }).filter((l) => l.startsWith('socket:[')).map((l) => l.slice(8, -1)));
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((cols) => cols[3] === '0A' && sockets.has(cols[9]!)).map((cols) => cols[1]!);
}

/** A Pod whose sidecar `proxy` is ready. */
function readyPod(name: string, extra: (p: Json) => void = () => {}): Json {
  const pod = makePod({ name, containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  extra(pod);
  return pod;
}

// --- 1. the inspector -----------------------------------------------------------------

test('SIGUSR1 during `proa check` opens no inspector (the listener is in force from the first statement)', async (t) => {
  // An API server that accepts and never answers: check waits on it.
  const held: Socket[] = [];
  const silent = createServer((s) => {
    s.on('error', () => {});
    held.push(s);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => silent.close());
  const connected = new Promise<void>((resolve) => silent.once('connection', () => resolve()));
  const b = await bed(t, undefined);
  const run = proa(['check'], { ...b.env, KUBERNETES_SERVICE_PORT: String((silent.address() as { port: number }).port) });
  await connected;
  run.signal('SIGUSR1');
  // Then the server hangs up: check reports it and exits, having had the time to open
  // an inspector (Node says "Debugger listening" on stderr when it does).
  const ports = listening(run.child.pid!);
  for (const s of held) s.destroy();
  assert.equal((await run.exited).code, 1, run.stdout + run.dump());
  assert.deepEqual(ports, [], 'no listening socket');
  assert.ok(!run.text.some((l) => /Debugger listening/.test(l)), run.text.join('\n'));
  assert.match(run.stdout, /cannot reach the API server|could not finish/);
});

// --- 2. malformed Pod status ----------------------------------------------------------

test('fields of the wrong type are read as unknown with one warning each; the command runs once the status is sound', async (t) => {
  const pod = makePod({ name: 'garbage', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  const run = b.run(['-g', b.rec.url('/quit'), '--shutdown-timeout', '0', '--', 'sh', '-c', 'exit 7']);
  await run.waitFor('waiting for the sidecars to be ready');
  b.update((p) => { p.status.containerStatuses = 'garbage'; });
  b.update((p) => { p.status.containerStatuses = 'garbage'; p.metadata.labels = { again: 'x' }; });
  const warned = await run.waitFor((l) => l.msg === 'the Pod from the API has a field proa cannot read; taken as unknown');
  assert.equal(warned.field, 'status.containerStatuses: expected an array, got string');
  b.update((p) => { p.status.containerStatuses = [{ name: 'proxy', ready: 'true', restartCount: 'x', state: { running: {} } }]; });
  await run.waitFor((l) => l.field === 'status.containerStatuses[proxy].ready: expected a boolean, got string');
  assert.ok(!run.has('sidecar proxy: ready'), 'ready: "true" is not ready');
  b.update((p) => { running(p, 'proxy', true); p.status.containerStatuses[0].restartCount = 0; });
  assert.equal((await run.exited).code, 7, run.dump());
  assert.equal(run.lines.filter((l) => l.field === 'status.containerStatuses: expected an array, got string').length, 1, 'logged once');
  assert.ok(run.has('the Pod from the API reads cleanly again'));
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
});

test('a waiting message nested 200,000 levels deep: one warning, no crash, the Job goes on', async (t) => {
  const b = await bed(t, makePod({ name: 'deep', containers: ['main', 'proxy'] }));
  const run = b.run(['-g', b.rec.url('/quit'), '--shutdown-timeout', '0', '--', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  const pod = structuredClone(readyPod('deep'));
  pod.metadata.namespace = b.namespace;
  pod.metadata.resourceVersion = '999999999';
  pod.status.containerStatuses.find((s: Json) => s.name === 'proxy').state = { waiting: { reason: 'CrashLoopBackOff', message: '@DEEP@' } };
  pod.status.containerStatuses.find((s: Json) => s.name === 'proxy').ready = false;
  const depth = 200_000;
  b.api.rawEvent('MODIFIED', JSON.stringify(pod).replace('"@DEEP@"', '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));
  await run.waitFor((l) => typeof l.field === 'string' && l.field.includes('waiting.message: expected a string, got an object'));
  await run.waitFor('sidecar proxy: waiting (CrashLoopBackOff)');
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0, run.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
});

test('a status proa cannot read arriving while the command runs: the actions are sent, the command\'s code kept', async (t) => {
  const b = await bed(t, readyPod('late-garbage'));
  const release = join(tempDir(), 'release');
  const run = b.run(['-g', b.rec.url('/quit'), '--shutdown-timeout', '2s', '--', 'sh', '-c', `while [ ! -e ${release} ]; do sleep 0.05; done; exit 7`]);
  await run.waitFor('command started');
  const pod = readyPod('late-garbage');
  pod.metadata.namespace = b.namespace;
  pod.status.containerStatuses = 'garbage';
  pod.spec.containers = [{ name: 'main' }, { name: 42 }, 'x'];
  b.api.rawEvent('MODIFIED', JSON.stringify(pod));
  await run.waitFor((l) => l.field === 'status.containerStatuses: expected an array, got string');
  writeFileSync(release, '');
  assert.equal((await run.exited).code, 7, run.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
  assert.ok(!run.lines.some((l) => /internal error/.test(l.msg)), run.dump());
});

// --- 3. recognised sidecars with ports that are not plain numbers -----------------------

test('recognised sidecars: $(VAR) ports expanded as the kubelet does; a port that is not one gets a warning, never a stuck watch', async (t) => {
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  const pod = readyPod('ports', (p) => {
    p.metadata.annotations = { 'vault.hashicorp.com/agent-enable-quit': 'true', 'vault.hashicorp.com/agent-cache-listener-port': 'abc' };
    p.spec.containers.push(
      { name: 'db-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args: ['--quitquitquit', '--admin-port=$(ADMIN_PORT)', 'p:r:i'], env: [{ name: 'BASE', value: String(rec.port) }, { name: 'ADMIN_PORT', value: '$(BASE)' }] },
      { name: 'other-sql', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args: ['--quitquitquit', '--admin-port=99999', 'p:r:i'] },
      { name: 'vault-agent', image: 'hashicorp/vault:1.21.1' },
    );
    for (const c of ['db-proxy', 'other-sql', 'vault-agent']) p.status.containerStatuses.push({ name: c, ready: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } });
  });
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-auto', '--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.deepEqual(rec.received.map((r) => `${r.method} ${r.path}`), ['POST /quitquitquit'], 'the expanded port got the request');
  const warnings = run.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.ok(warnings.some((w) => /sidecar other-sql \(Cloud SQL Auth Proxy\): --admin-port is "99999", not a port/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /sidecar vault-agent \(Vault Agent\): annotation vault.hashicorp.com\/agent-cache-listener-port is "abc", not a port/.test(w)), warnings.join('\n'));
  assert.ok(!run.lines.some((l) => /Invalid URL/.test(JSON.stringify(l))), run.dump());
});

// --- 4. durations past Node's timer limit ----------------------------------------------

test('durations past 2147483647ms: exit 2 naming the maximum, from flags and the environment', async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--ready-timeout', '600h', 'true'], {}, /--ready-timeout: "600h" is too long; the largest duration is 2147483647ms \(596h31m23s\)/],
    [['--no-wait', 'true'], { PROA_SHUTDOWN_HTTP_TIMEOUT: '5000000s' }, /PROA_SHUTDOWN_HTTP_TIMEOUT: "5000000s" is too long/],
    [['--watch-timeout', '2147484s', 'true'], {}, /--watch-timeout: "2147484s" is too long/],
    [['--shutdown-timeout', '99999999999999999999999h', 'true'], {}, /--shutdown-timeout: .* is too long/],
  ];
  for (const [args, env, expected] of cases) {
    const run = proa(args, env);
    assert.equal((await run.exited).code, 2, run.dump());
    assert.equal(run.text.length, 1, run.text.join('\n'));
    assert.match(run.text[0]!, expected);
  }
  const max = proa(['--no-wait', '--ready-timeout', '2147483647ms', '--shutdown-http-timeout', '596h31m23s', 'true']);
  assert.equal((await max.exited).code, 0, max.dump());
});

test('terminationGracePeriodSeconds past the limit: clamped with one warning; the exit wait and --kill end when the sidecar does', ns, async (t) => {
  const victim = `proa-victim-${process.pid}`;
  const b = await bed(t, readyPod('long-grace', (p) => { p.spec.terminationGracePeriodSeconds = 3_000_000; }));
  // In a PID namespace of the test's own, as a Pod's: --kill is refused in the host's.
  const env = Object.entries({ ...b.env, PATH: process.env.PATH ?? '', PROA_LOG: 'debug' }).map(([k, v]) => `${k}=${v}`);
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'env', ...env, 'bash', '-c',
    `(exec -a ${victim} sleep 300) & s=$!; "${binary}" -k ${victim} -- true; echo "proa=$?"; wait $s; echo "sleep=$?"`], { PATH: process.env.PATH ?? '' });
  t.after(() => run.child.kill('SIGKILL'));
  await run.waitFor((l) => l.msg === 'sent signal' && l.name === victim);
  b.update((p) => terminated(p, 'proxy', 0));
  assert.equal((await run.exited).code, 0, run.dump());
  assert.match(run.stdout, /proa=0\nsleep=143\n/, `matched by argv[0]: ${run.stdout}`);
  assert.equal(run.lines.filter((l) => /terminationGracePeriodSeconds 3000000 is longer than proa can wait/.test(l.msg)).length, 1, run.dump());
  assert.ok(run.has('1/1 sidecars exited'));
});

// --- 5, 6. error bodies and lines that never end ---------------------------------------

test('an API error whose body never ends: cut after its deadline, logged, retried', async (t) => {
  const b = await bed(t, readyPod('hang-body'));
  b.api.hangErrorBodies(1, 500);
  const run = b.run(['--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.lines.some((l) => l.level === 'warn' && /the API server answered 500/.test(l.msg)), run.dump());
  assert.ok(b.watches() >= 2);
});

test('a watch line that never ends: cut at the 8 MiB cap, logged as a broken stream, retried; memory stays bounded', async (t) => {
  const b = await bed(t, makePod({ name: 'endless', containers: ['main', 'proxy'] }), { splitChunks: false });
  const run = b.run(['--shutdown-timeout', '0', '--', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  const written = await b.api.endlessLine(64 * 1024 * 1024);
  assert.ok(written < 32 * 1024 * 1024, `proa stopped reading after the cap (${written} bytes written)`);
  await run.waitFor((l) => /longer than 8388608 bytes/.test(l.msg));
  await b.api.waitForRequest((r) => r.query.watch !== undefined, 1);
  const hwm = Number(readFileSync(`/proc/${run.child.pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)![1]) / 1024;
  assert.ok(hwm < 160, `peak RSS ${hwm.toFixed(0)} MiB`);
  t.diagnostic(`an endless line: proa stopped reading after ${(written / 1048576).toFixed(1)} MiB of 64; its peak RSS ${hwm.toFixed(0)} MiB`);
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 0, run.dump());
});

// --- 7, 8. --kill-all and the PID namespace ----------------------------------------------

test('--kill-all spares every ancestor of proa (sh -c in front of it), not only PID 1', ns, async () => {
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c',
    'sleep 300 & s=$!; sh -c "\\"$PROA\\" --no-wait -K -- sh -c \\"exit 3\\""; echo "wrapper=$?"; wait $s; echo "sleep=$?"'],
  { PATH: process.env.PATH ?? '', PROA: binary, PROA_LOG: 'debug' });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.match(run.stdout, /wrapper=3\nsleep=143\n/, run.stdout + run.dump());
});

test('--kill-all: refused in the host\'s PID namespace by the kernel\'s marks, not by names; works under an init named init', async (t) => {
  const dir = tempDir();
  // SIGCONT: were the refusal ever broken, this test must not stop every process on the machine.
  const refused = (run: Run, why: RegExp): Promise<void> => run.exited.then(({ code }) => {
    assert.equal(code, 2, run.dump());
    assert.equal(run.text.length, 1, run.text.join('\n'));
    assert.match(run.text[0]!, why);
    assert.throws(() => readFileSync(join(dir, 'ran')), 'nothing started');
  });
  if (readlinkSync('/proc/self/ns/pid') === 'pid:[4026531836]') {
    await refused(proa(['--no-wait', '--kill-all', '--kill-signal', 'CONT', '--', 'touch', join(dir, 'ran')]), /--kill-all refused: proa runs in the host's initial PID namespace/);
  } else {
    t.diagnostic('this test runs outside the initial PID namespace: the refusal there is not checked');
  }
  if (!unshareWorks) return;
  // A PID namespace of its own that still sees the host's /proc (no --mount-proc): kernel
  // threads in sight. Its PIDs cannot reach the host's processes either way.
  await refused(new Run('unshare', ['--pid', '--fork', '--kill-child', binary, '--no-wait', '--kill-all', '--kill-signal', 'CONT', '--', 'touch', join(dir, 'ran')],
    { PATH: process.env.PATH ?? '' }), /--kill-all refused: kernel threads are visible/);
  execFileSync('cp', ['/bin/bash', join(dir, 'init')]);
  const inner = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', join(dir, 'init'), '-c', '"$PROA" --no-wait --kill-all -- touch "$D/ran"; echo "proa=$?"'],
    { PATH: process.env.PATH ?? '', PROA: binary, D: dir });
  await inner.exited;
  assert.match(inner.stdout, /proa=0/, inner.dump());
  readFileSync(join(dir, 'ran'));
});

test('hostPID: true with --kill-all is a bad spec: exit 2 when the spec is seen, the other actions run, --kill-all never', ns, async (t) => {
  const b = await bed(t, readyPod('host-pid', (p) => { p.spec.hostPID = true; }));
  const env = Object.entries({ ...b.env, PATH: process.env.PATH ?? '', PROA_LOG: 'debug' }).map(([k, v]) => `${k}=${v}`);
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'env', ...env, 'bash', '-c',
    `sleep 300 & s=$!; "${binary}" --kill-all -g ${b.rec.url('/quit')} --shutdown-timeout 0 -- true; echo "proa=$?"; kill -0 $s && echo "sleep alive"; kill $s`], { PATH: process.env.PATH ?? '' });
  await run.exited;
  assert.match(run.stdout, /proa=2\nsleep alive/, run.stdout + run.dump());
  assert.ok(run.lines.some((l) => l.level === 'error' && /--kill-all with hostPID: true/.test(l.msg)), run.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
  assert.ok(!run.has('sent signal'));
});

// --- 9, 11. proa check: secrets and answers it cannot read -----------------------------

test('proa check shows no credentials, its own or PID 1\'s, and PID 1\'s options as parsed options', ns, async (t) => {
  const b = await bed(t, readyPod('check-secrets'));
  const secret = 'hunter2-check';
  const url = `http://admin:${secret}@127.0.0.1:${b.rec.port}/quit`;
  for (const json of [false, true]) {
    const run = proa(['check', '-g', url, ...(json ? ['--log-format', 'json'] : [])], b.env);
    await run.exited;
    assert.ok(!run.stdout.includes(secret) && !run.dump().includes(secret), run.stdout);
    assert.ok(run.stdout.includes(`http://127.0.0.1:${b.rec.port}/quit`), run.stdout);
  }
  const holder = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', binary, '--shutdown-timeout', '0', '-p', url, '--', 'sleep', '30'],
    { PATH: process.env.PATH ?? '', PROA_LOG: 'debug', ...b.env });
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.waitFor('command started');
  const inner = Number(readFileSync(`/proc/${holder.child.pid}/task/${holder.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  const run = new Run('nsenter', ['-t', String(inner), '-p', '-m', binary, 'check'], { PATH: process.env.PATH ?? '' });
  await run.exited;
  assert.ok(!run.stdout.includes(secret), run.stdout);
  assert.match(run.stdout, new RegExp(`^proa check, with options and environment of PID 1 \\(--shutdown-http-post http://127\\.0\\.0\\.1:${b.rec.port}/quit --shutdown-timeout 0ms[ )]`), run.stdout);
});

test('proa check: a non-JSON answer and a Pod over the 8 MiB cap are failed findings, not crashes', async (t) => {
  const b = await bed(t, readyPod('check-odd'));
  b.api.rawAnswerNext(200, '<html><body>Sign in to continue</body></html>');
  const html = proa(['check'], b.env);
  assert.equal((await html.exited).code, 1, html.stdout + html.dump());
  assert.match(html.stdout, /fail +the API's answer for Pod check-odd is not JSON/);
  assert.ok(!/at .*\.js|Error:/.test(html.stdout + html.text.join('\n')), 'no stack');
  b.update((p) => { p.metadata.annotations = { big: 'x'.repeat(9 * 1024 * 1024) }; });
  const big = proa(['check'], b.env);
  assert.equal((await big.exited).code, 1, big.stdout + big.dump());
  assert.match(big.stdout, /larger than the 8 MiB cap on a Pod document/);
});

// --- 12, 13. what the logs say ---------------------------------------------------------

test('text logs escape control characters: a waiting message cannot forge a line', async (t) => {
  const forged = '\n2026-11-29T00:00:00.000Z INFO  all sidecars are ready\r\u001b[2K';
  const pod = makePod({ name: 'forge', containers: ['main', 'proxy'] });
  pod.status.containerStatuses.find((s: Json) => s.name === 'proxy').state = { waiting: { reason: `CrashLoopBackOff${forged}`, message: forged } };
  const b = await bed(t, pod);
  const run = b.run(['--log-format', 'text', '--ready-timeout', '1s', '--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await run.exited).code, 5);
  assert.ok(run.text.length > 3, run.text.join('\n'));
  assert.ok(!run.text.some((l) => /^\S+ INFO  all sidecars are ready/.test(l) || l.includes('\r') || l.includes('\u001b')), run.text.join('\n'));
  assert.ok(run.text.some((l) => l.includes('\\n2026-11-29T00:00:00.000Z INFO  all sidecars are ready\\r\\u001b[2K')), run.text.join('\n'));
});

test('ready: "true" (a string) is not ready, by one rule everywhere: the state line, the wait and the timeout agree', async (t) => {
  const pod = makePod({ name: 'stringly', containers: ['main', 'proxy'] });
  running(pod, 'proxy', false);
  pod.status.containerStatuses.find((s: Json) => s.name === 'proxy').ready = 'true';
  const b = await bed(t, pod);
  const run = b.run(['--ready-timeout', '1s', '--shutdown-timeout', '0', '--', 'true']);
  assert.equal((await run.exited).code, 5, run.dump());
  assert.ok(!run.has('sidecar proxy: ready'));
  assert.ok(run.has('sidecar proxy: running, not ready'), run.dump());
  assert.ok(run.lines.some((l) => l.level === 'error' && l.msg.startsWith('sidecar proxy is not ready: running, not ready')), run.dump());
});

// --- 14. help and version with a broken stdout -----------------------------------------

test('--help and --version: exit 0 silently when stdout\'s reader is gone (EPIPE); exit 2 with one line on another write error', async () => {
  const fifo = join(tempDir(), 'out');
  execFileSync('mkfifo', [fifo]);
  for (const flag of ['--help', '--version']) {
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    closeSync(reader);
    const run = new Run(binary, [flag], { PATH: process.env.PATH ?? '' }, ['ignore', writer, 'pipe']);
    closeSync(writer);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.dump());
    assert.deepEqual(run.text, []);
    const full = openSync('/dev/full', constants.O_WRONLY);
    const run2 = new Run(binary, [flag], { PATH: process.env.PATH ?? '' }, ['ignore', full, 'pipe']);
    closeSync(full);
    assert.equal((await run2.exited).code, 2);
    assert.equal(run2.text.length, 1, run2.text.join('\n'));
    assert.match(run2.text[0]!, /cannot write to standard output: ENOSPC/);
  }
});

// --- 15, 16. credentials and targets outside the Pod ------------------------------------

test('usage errors never echo credentials; credentials in clear to a host outside the Pod are refused', async () => {
  const cases: [string[], RegExp][] = [
    [['-g', 'http://admin:hunter2@:80/quit', 'true'], /is not an http\(s\) URL/],
    [['-g', 'http://admin:hunter2@sidecar.example:15020/quit', 'true'], /credentials in clear over http: to sidecar\.example/],
    [['-g', 'http://admin:hunt%zzer2@127.0.0.1:1/quit', 'true'], /malformed percent-escape/],
  ];
  for (const [args, expected] of cases) {
    const run = proa(['--no-wait', ...args]);
    assert.equal((await run.exited).code, 2, run.dump());
    assert.equal(run.text.length, 1);
    assert.match(run.text[0]!, expected);
    assert.ok(!run.text[0]!.includes('hunter2') && !run.text[0]!.includes('hunt%zz'), run.text[0]);
  }
});

test('a shutdown target outside the Pod: one warning at start, naming it', ns, async () => {
  // In a network namespace of its own with no route out: the request cannot leave.
  const run = new Run('unshare', ['--net', binary, '--no-wait', '--shutdown-timeout', '0', '-g', 'https://user:pw@sidecar.example:15020/quit', '--', 'true'],
    { PATH: process.env.PATH ?? '', PROA_LOG: 'debug' });
  assert.equal((await run.exited).code, 0, run.dump());
  const warned = run.lines.filter((l) => /is not in this Pod/.test(l.msg));
  assert.equal(warned.length, 1, run.dump());
  assert.match(warned[0]!.msg, /^shutdown target https:\/\/sidecar\.example:15020\/quit is not in this Pod/);
  assert.ok(!run.dump().includes('pw@'), run.dump());
});

// --- 19. PROA_* variables stay with proa --------------------------------------------------

test('the command gets no PROA_* variable (they may hold credentials) unless --keep-proa-env', async () => {
  const rec = await Recorder.start();
  const env = { PROA_SHUTDOWN_HTTP_GET: `http://admin:s3cret@127.0.0.1:${rec.port}/quit`, PROA_SHUTDOWN_TIMEOUT: '0', OTHER: 'kept' };
  const plain = proa(['--no-wait', '--', 'env'], env);
  assert.equal((await plain.exited).code, 0, plain.dump());
  assert.ok(!/^PROA_/m.test(plain.stdout), plain.stdout);
  assert.match(plain.stdout, /^OTHER=kept$/m);
  const kept = proa(['--no-wait', '--keep-proa-env', '--', 'env'], env);
  assert.equal((await kept.exited).code, 0);
  assert.match(kept.stdout, /^PROA_SHUTDOWN_HTTP_GET=/m);
  const disabled = proa(['--', 'env'], { ...env, PROA_DISABLED: '1' });
  assert.equal((await disabled.exited).code, 0);
  assert.ok(!/^PROA_/m.test(disabled.stdout), disabled.stdout);
  await rec.stop();
});
