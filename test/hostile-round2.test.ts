// The hardening review's second round (docs/reliability.md, "Round 2"), through the built
// binary wherever the finding is reachable from outside: peers that can be stalled or
// fooled, credentials that slipped through the redaction, lookups and connections
// without a bound. Each test failed on the binary before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { makePod, running, terminated } from './pods.ts';
import { binary, tempDir } from '../testbed/paths.ts';
import { proa, Run } from './proa.ts';
import { Recorder } from './recorder.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { exits, readiness } from '../src/pod/status.ts';
import { plan } from '../src/pod/plan.ts';
import type { Pod } from '../src/shared/pod.ts';

const works = (args: string[]): boolean => {
  try {
    execFileSync('unshare', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const pidNs = works(['--pid', '--fork', '--mount-proc', 'true']) ? {} : { skip: 'unshare --pid needs root' };
const netNs = works(['--net', '--mount', 'true']) ? {} : { skip: 'unshare --net --mount needs root' };

/** A Pod of two programs wrapped by proa (`first`, then `main`) sharing the sidecar `proxy`, which is ready. */
function peersPod(name: string, uid: string): Json {
  const pod = makePod({ name, containers: ['first', 'main', 'proxy'] });
  pod.metadata.uid = uid;
  for (const c of pod.spec.containers) if (c.name !== 'proxy') c.command = ['/usr/local/bin/proa', '--', 'app'];
  running(pod, 'proxy', true);
  return pod;
}

/** A process of the Pod listening on a peer's liveness channel, answering `answer` to whoever asks. */
async function squat(uid: string, container: string, answer: string): Promise<Server> {
  const server = createServer((s) => s.on('error', () => {}).end(answer));
  await new Promise<void>((resolve) => server.listen(`\0proa/${uid}/${container}`, resolve));
  return server;
}

const uid = (): string => `${process.pid}-${Math.random().toString(16).slice(2, 10)}-4000-8000-000000000000`;

// --- 1. credentials -----------------------------------------------------------------------

test('credentials: a quote in a password never reaches a log line; a usage error never echoes a value that may hold userinfo', async (t) => {
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  const quoted = proa(['--no-wait', '--shutdown-timeout', '0', '-g', `http://admin:S3c'ret@127.0.0.1:${rec.port}/quit`, '--', 'true']);
  assert.equal((await quoted.exited).code, 0, quoted.dump());
  assert.ok(quoted.has('shutdown request answered'), quoted.dump());
  assert.ok(!quoted.dump().includes('S3c'), quoted.dump());
  assert.equal(rec.received[0]?.headers.authorization, `Basic ${Buffer.from("admin:S3c'ret").toString('base64')}`);

  // A comma in a password, written %2C in a PROA_* list: decoded before it is sent.
  const escaped = proa(['--no-wait', '--shutdown-timeout', '0', '--', 'true'], { PROA_SHUTDOWN_HTTP_GET: `http://admin:S3%2Ccret@127.0.0.1:${rec.port}/quit` });
  assert.equal((await escaped.exited).code, 0, escaped.dump());
  assert.equal(rec.received[1]?.headers.authorization, `Basic ${Buffer.from('admin:S3,cret').toString('base64')}`);
  assert.ok(!escaped.dump().includes('S3'), escaped.dump());

  const cases: [string[], Record<string, string>, RegExp][] = [
    // The comma splits the list: neither piece may be shown.
    [['--no-wait', '--', 'true'], { PROA_SHUTDOWN_HTTP_POST: 'http://admin:S3,cret@127.0.0.1:15020/quit' }, /PROA_SHUTDOWN_HTTP_POST: item 1 of 2 .*%2C/],
    [['--no-wait', '-g', 'admin:S3cret@127.0.0.1:15020/quit', '--', 'true'], {}, /"\*\*\*@127\.0\.0\.1:15020\/quit" is not an http\(s\) URL/],
    [['--no-wait', '-g', '//admin:S3cret@127.0.0.1:15020/quit', '--', 'true'], {}, /"\/\/\*\*\*@127\.0\.0\.1:15020\/quit" is not an http\(s\) URL/],
    [['--no-wait', '-g', 'http://admin:S3"cret@127.0.0.1:99999/quit', '--', 'true'], {}, /"http:\/\/(\*\*\*@)?127\.0\.0\.1:99999\/quit" is not an http\(s\) URL/],
    [['--no-wait', '-g', "http://admin:S3'cret@127.0.0.1:99999/quit", '--', 'true'], {}, /is not an http\(s\) URL/],
    [['--no-wait', '--wait-tcp', 'admin:S3cret@127.0.0.1:5432', '--', 'true'], {}, /is not HOST:PORT/],
    [['--no-wait', '--ready-timeout', 'admin:S3cret@soon', '--', 'true'], {}, /is not a duration/],
  ];
  for (const [args, env, expected] of cases) {
    const run = proa(args, env);
    assert.equal((await run.exited).code, 2, run.dump());
    assert.equal(run.text.length, 1, run.text.join('\n'));
    assert.match(run.text[0]!, expected);
    assert.ok(!/S3|cret/.test(run.text[0]!), run.text[0]);
  }
});

// --- 2. a peer that ignored its bounds and signals -------------------------------------------

test('peers: an earlier peer not yet started holds a later one at most a bounded while before the command; a signal ends the wait after it', { timeout: 60_000 }, async (t) => {
  const id = uid();
  const pod = peersPod('peer-early', id);
  const b = await bed(t, pod);
  // `first` is still pulling its image: waiting, never answering.
  const early = b.run(['--container', 'main', '--ready-timeout', '1s', '--wait-tcp', '127.0.0.1:1', '-g', b.rec.url('/quit'), '--', 'true']);
  assert.equal((await early.exited).code, 5, early.dump());
  assert.ok(early.has(/^proa in container first has not confirmed that it is alive \(within 3s, before the command\)/), early.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), [], 'the sidecars are left to the acting peer');

  // After the command: `first` runs with --no-wait (no channel): the later peer waits for it,
  // and a stopping signal ends that wait.
  b.update((p) => running(p, 'first', false));
  const late = b.run(['--container', 'main', '-g', b.rec.url('/quit'), '--', 'sh', '-c', 'exit 3']);
  await late.waitFor('command exited');
  late.signal('SIGTERM');
  assert.equal((await late.exited).code, 3, late.dump());
  assert.ok(late.has(/^proa in container first has not confirmed that it is alive \(a stopping signal came\)/), late.dump());
});

// --- 3. an API outage at start ------------------------------------------------------------

test('peers: an API outage at start hands the readiness to the endpoints, and the watch comes back for the peers\' rule', { timeout: 90_000 }, async (t) => {
  const id = uid();
  const b = await bed(t, peersPod('peer-outage', id));
  const first = await squat(id, 'first', `proa peer ${id} first\n`);
  t.after(() => first.close());
  const sidecar = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => sidecar.listen(0, '127.0.0.1', resolve));
  t.after(() => sidecar.close());
  const port = (sidecar.address() as { port: number }).port;
  const down = b.api.restart(12_000);
  // The program runs until the watch is back (the test creates the file then).
  const back = join(tempDir(), 'back');
  const run = b.run(['--container', 'main', '--wait-tcp', `127.0.0.1:${port}`, '-g', b.rec.url('/quit'), '--',
    'sh', '-c', `while [ ! -e ${back} ]; do sleep 0.05; done`]);
  await run.waitFor((l) => l.msg === 'mode: the endpoints, until the API answers');
  await run.waitFor('command started');
  await down;
  await run.waitFor(/^the Kubernetes API answers again/);
  writeFileSync(back, '');
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.has(/^proa in container first acts for the other programs of this Pod and is alive/), run.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), [], 'the first program still runs: its sidecar is not stopped under it');
});

// --- 4. no IPv6 in the Pod ----------------------------------------------------------------

test('no IPv6 in the Pod: localhost\'s ::1 cannot be connected to, and counts as closed once 127.0.0.1 is', netNs, async () => {
  const dir = tempDir();
  // A sidecar on 127.0.0.1 that quits when asked.
  writeFileSync(join(dir, 'sidecar.py'), [
    'import http.server, sys, threading',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        self.send_response(200); self.end_headers()',
    '        if self.path == "/quit": threading.Thread(target=self.server.shutdown).start()',
    '    def log_message(self, *a): pass',
    'http.server.HTTPServer(("127.0.0.1", 8081), H).serve_forever()',
  ].join('\n'));
  const run = new Run('unshare', ['--net', 'sh', '-c',
    'ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && python3 "$D/sidecar.py" </dev/null >/dev/null 2>&1 & ' +
    'exec "$PROA" --wait-tcp localhost:8081 --shutdown-timeout 20s -g http://localhost:8081/quit -- true'],
  { PATH: process.env.PATH ?? '', PROA: binary, D: dir, PROA_LOG: 'debug' });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.has('every sidecar endpoint refuses connections: the sidecars have exited'), run.dump());
  assert.ok(!run.lines.some((l) => /is still running after/.test(l.msg)), run.dump());
});

// --- 5. a resolver that never answers ----------------------------------------------------------

test('DNS that never answers: one lookup per name in flight, whatever the probes\' pace; the bounds hold', netNs, async (t) => {
  const dir = tempDir();
  t.after(() => { try { execFileSync('pkill', ['-f', join(dir, 'swallow.py')]); } catch { /* gone already */ } });
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:30 attempts:1\n');
  // A resolver that swallows every query and counts them.
  writeFileSync(join(dir, 'swallow.py'), [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))',
    'open(sys.argv[1] + ".up", "w").close()',
    'n = 0',
    'while True:',
    '    s.recv(4096); n += 1',
    '    open(sys.argv[1], "w").write(str(n))',
  ].join('\n'));
  const run = new Run('unshare', ['--net', '--mount', 'sh', '-c',
    'mount --bind "$D/resolv.conf" /etc/resolv.conf && ip link set lo up && (python3 "$D/swallow.py" "$D/queries" </dev/null >/dev/null 2>&1 &) && ' +
    'while [ ! -e "$D/queries.up" ]; do sleep 0.05; done; ' +
    'exec "$PROA" --wait-tcp sidecar.proa-test.:8080 --ready-timeout 3s --shutdown-timeout 1s -- true'],
  { PATH: process.env.PATH ?? '', PROA: binary, D: dir, PROA_LOG: 'debug' });
  assert.equal((await run.exited).code, 5, run.dump());
  const queries = Number(readFileSync(join(dir, 'queries'), 'utf8'));
  t.diagnostic(`the resolver received ${queries} queries while proa ran`);
  // One getaddrinfo asks for A and AAAA at once; probes 5 times a second for 3 s must not add more.
  assert.ok(queries >= 1 && queries <= 2, `${queries} DNS queries`);
});

test('a name from /etc/hosts (the Pod\'s hostAliases) still resolves, through the system\'s resolver', netNs, async (t) => {
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  const dir = tempDir();
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 quit-endpoint.proa-alias\n');
  const run = new Run('unshare', ['--mount', 'sh', '-c',
    `mount --bind "$D/hosts" /etc/hosts && exec "$PROA" --no-wait --shutdown-timeout 0 -g http://quit-endpoint.proa-alias:${rec.port}/quit -- true`],
  { PATH: process.env.PATH ?? '', PROA: binary, D: dir, PROA_LOG: 'debug' });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.deepEqual(rec.received.map((r) => r.path), ['/quit'], run.dump());
});

// --- 6. a stopping signal just before the command --------------------------------------------

test('a SIGTERM as the sidecars become ready is never swallowed: either the command never starts, or it gets the signal', async (t) => {
  let early = 0;
  for (let i = 0; i < 30; i++) {
    const pod = makePod({ name: `race-${i}`, containers: ['main', 'proxy'] });
    running(pod, 'proxy', false);
    const b = await bed(t, pod);
    const run = b.run(['--shutdown-timeout', '0', '--', 'sleep', '5']);
    await run.waitFor('waiting for the sidecars to be ready');
    await run.waitFor((l) => l.msg === 'sidecar proxy: running, not ready');
    b.update((p) => running(p, 'proxy', true));
    run.signal('SIGTERM');
    const { code } = await run.exited;
    const at = (msg: string): number => run.lines.findIndex((l) => l.msg === msg);
    const stopped = at('received signal: stopping');
    const started = at('command started');
    if (stopped >= 0 && (started < 0 || stopped < started)) {
      early++;
      assert.equal(started, -1, `the command started after the stop: ${run.dump()}`);
      assert.equal(code, 143, run.dump());
    } else {
      assert.ok(run.has('forwarding signal to the command'), run.dump());
      assert.equal(code, 143, run.dump());
    }
  }
  t.diagnostic(`${early} of 30 signals came before the command started`);
});

// --- 7. the peers' socket cannot exhaust proa ------------------------------------------------------

test('peers: connections held open on the liveness channel do not hold proa\'s descriptors', pidNs, async (t) => {
  const id = uid();
  const pod = peersPod('peer-fds', id);
  running(pod, 'proxy', false);
  const b = await bed(t, pod);
  const run = b.run(['--container', 'main', '--shutdown-timeout', '0', '--', 'true']);
  await run.waitFor('found the Pod');
  // The channel listens a moment after the Pod is found.
  while (!(await new Promise<boolean>((resolve) => {
    const s = connect({ path: `\0proa/${id}/main` });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  })));
  const held: Socket[] = [];
  t.after(() => { for (const s of held) s.destroy(); });
  // Never read, never closed from this side.
  await Promise.all(Array.from({ length: 600 }, () => new Promise<void>((resolve) => {
    const s = connect({ path: `\0proa/${id}/main` });
    s.on('error', () => resolve());
    s.once('connect', () => resolve());
    s.pause();
    held.push(s);
  })));
  // Once the last connection has had its answer, count what proa still holds.
  await new Promise<void>((resolve) => { const s = connect({ path: `\0proa/${id}/main` }); s.on('close', () => resolve()); s.on('error', () => resolve()); s.resume(); });
  const fds = readdirSync(`/proc/${run.child.pid}/fd`).length;
  t.diagnostic(`proa holds ${fds} descriptors with 600 connections held open on its channel`);
  assert.ok(fds < 100, `proa holds ${fds} descriptors with 600 connections held open`);
  b.update((p) => running(p, 'proxy', true));
  b.update((p) => terminated(p, 'first', 0));
  assert.equal((await run.exited).code, 0, run.dump());
});

// --- 8. the acting peer impersonated ------------------------------------------------------------

test('peers: a neighbour on a peer\'s channel answering out of protocol is silence; one holding a peer\'s name raises the alarm', { timeout: 60_000 }, async (t) => {
  // Out of protocol: `first` is running by the status, and something answers on its channel.
  {
    const id = uid();
    const b = await bed(t, peersPod('peer-garbage', id));
    b.update((p) => running(p, 'first', false));
    const fake = await squat(id, 'first', 'hello\n');
    t.after(() => fake.close());
    const run = b.run(['--container', 'main', '-g', b.rec.url('/quit'), '--shutdown-timeout', '0', '--', 'true']);
    await run.waitFor('command exited');
    // A moment of asking, then the status says `first` was killed: main acts for all.
    b.update((p) => terminated(p, 'first', 137));
    assert.equal((await run.exited).code, 0, run.dump());
    assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit'], run.dump());
  }
  // The name taken before the peer listens: it says so and raises the alarm, which main,
  // running beside it, sees and keeps for the rest of its run: it judges by status alone.
  {
    const id = uid();
    // `first` shows as not running throughout (its container not reported started): under
    // the alarm the squatter's answer for it counts for nothing. (A status change sent
    // later could reach main after its program ends: the test would race the watch.)
    const b = await bed(t, peersPod('peer-squat', id));
    const fake = await squat(id, 'first', `proa peer ${id} first\n`);
    t.after(() => fake.close());
    const done = join(tempDir(), 'done');
    const run = b.run(['--container', 'main', '-g', b.rec.url('/quit'), '--shutdown-timeout', '0', '--',
      'sh', '-c', `while [ ! -e ${done} ]; do sleep 0.05; done`]);
    await run.waitFor('command started');
    const first = b.run(['--container', 'first', '--', 'sleep', '300']);
    await first.waitFor(/^another process of this Pod holds the liveness channel's name of container first/);
    await run.waitFor(/^a peer found its liveness channel's name held by another process of this Pod/);
    const started = await first.waitFor('command started');
    first.child.kill('SIGKILL');
    process.kill(started.pid as number, 'SIGKILL');
    await first.exited;
    writeFileSync(done, '');
    await run.waitFor('command exited');
    b.update((p) => terminated(p, 'first', 137));
    assert.equal((await run.exited).code, 0, run.dump());
    assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit'], `the impersonated peer is judged by its status: ${run.dump()}`);
  }
});

// --- 9. --kill NAME and the host's PID namespace ---------------------------------------------------

test('--kill NAME: refused in the host\'s PID namespace, and a bad spec with hostPID: true', async (t) => {
  const dir = tempDir();
  if (readlinkSync('/proc/self/ns/pid') === 'pid:[4026531836]') {
    // SIGCONT: were the refusal ever broken, nothing on this machine stops.
    const run = proa(['--no-wait', '--kill', 'sleep', '--kill-signal', 'CONT', '--', 'touch', join(dir, 'ran')]);
    assert.equal((await run.exited).code, 2, run.dump());
    assert.equal(run.text.length, 1);
    assert.match(run.text[0]!, /--kill refused: proa runs in the host's initial PID namespace .*other Pods' too.*drop hostPID: true/);
    assert.throws(() => readFileSync(join(dir, 'ran')), 'nothing started');
  } else {
    t.diagnostic('this test runs outside the initial PID namespace: the refusal there is not checked');
  }
  if (pidNs.skip) return;
  const pod = makePod({ name: 'host-pid-kill', containers: ['main', 'proxy'] });
  pod.spec.hostPID = true;
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const env = Object.entries({ ...b.env, PATH: process.env.PATH ?? '', PROA_LOG: 'debug' }).map(([k, v]) => `${k}=${v}`);
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'env', ...env, 'bash', '-c',
    `sleep 300 & s=$!; "${binary}" --kill sleep -g ${b.rec.url('/quit')} --shutdown-timeout 0 -- true; echo "proa=$?"; kill -0 $s && echo "sleep alive"; kill $s`], { PATH: process.env.PATH ?? '' });
  await run.exited;
  assert.match(run.stdout, /proa=2\nsleep alive/, run.stdout + run.dump());
  assert.ok(run.lines.some((l) => l.level === 'error' && /--kill with hostPID: true/.test(l.msg)), run.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
  assert.ok(!run.has('sent signal'));
});

// --- 10. proa check prints the API's strings escaped ------------------------------------------------

test('proa check: a waiting message with a newline and an escape sequence cannot forge a line or clear the terminal', async (t) => {
  const pod = makePod({ name: 'forged', containers: ['main', 'proxy'] });
  const s = pod.status.containerStatuses.find((c: Json) => c.name === 'proxy');
  s.state = { waiting: { reason: 'Bad\n  ok    sidecar proxy: ready\u001b[2J', message: 'x\u001b]0;owned\u0007' } };
  const b = await bed(t, pod);
  const run = b.run(['check', '--container', 'main']);
  await run.exited;
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(run.stdout), JSON.stringify(run.stdout));
  assert.ok(!run.stdout.split('\n').some((l) => /^\s+ok\s+sidecar proxy: ready/.test(l)), run.stdout);
});

// --- 11. unknown watch event types -------------------------------------------------------------

test('endless distinct unknown watch event types: what is remembered and logged stays bounded', async (t) => {
  const pod = makePod({ name: 'odd-types', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', '--', 'true']);
  await run.waitFor('waiting for the sidecars to be ready');
  // 100,000 events (about 6 MB), each of a type never seen before.
  for (let chunk = 0; chunk < 100; chunk++) {
    b.api.rawToWatches(Array.from({ length: 1000 }, (_, i) => `{"type":"ODD${chunk * 1000 + i}","object":{}}\n`).join(''));
    await new Promise((resolve) => setImmediate(resolve));
  }
  b.update((p) => running(p, 'proxy', true));
  await run.waitFor('command exited');
  b.update((p) => terminated(p, 'proxy', 0));
  assert.equal((await run.exited).code, 0, run.dump());
  const odd = run.lines.filter((l) => /unknown type|kinds of events proa cannot use/.test(l.msg)).length;
  t.diagnostic(`${odd} log lines for 100,000 events of distinct unknown types`);
  assert.ok(odd <= 17, `${odd} lines about unknown events`);
});

// --- 12. 100 Continue --------------------------------------------------------------------------

test('a 100 Continue before the answer is not the answer', async () => {
  const server = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const run = proa(['--no-wait', '--shutdown-timeout', '0', '-p', `http://127.0.0.1:${port}/quitquitquit`, '--', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.lines.some((l) => l.msg === 'shutdown request answered' && l.status === 200), run.dump());
  assert.ok(!run.lines.some((l) => l.level === 'error'), run.dump());
  server.close();
});

// --- 13. per-event cost in the number of containers ------------------------------------------------

test('the rules over one Pod event read each container status a bounded number of times (no scan per container)', (t) => {
  const n = 3000;
  const names = Array.from({ length: n }, (_, i) => `c${i}`);
  const pod = makePod({ name: 'wide', containers: ['main', ...names] }) as Pod & Json;
  for (const name of names) running(pod as Json, name, true);
  let reads = 0;
  const counted = (list: unknown[]): unknown[] => new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const p = plan(pod, { container: { value: 'main', source: '--container' }, waitFor: [], ignore: [] });
  assert.ok(!('error' in p));
  pod.status!.containerStatuses = counted(pod.status!.containerStatuses!) as never;
  assert.equal(readiness(pod, p).kind, 'ready');
  const baseline = new Map(names.map((name) => [name, { restartCount: 0, last: undefined }]));
  assert.equal(exits(pod, p, baseline).running.length, n);
  assert.ok(reads <= 4 * (n + 1), `${reads} reads of ${n + 1} statuses`);
  t.diagnostic(`${reads} reads of ${n + 1} statuses for readiness and exits`);
});
