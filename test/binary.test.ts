// The built binary as a container entrypoint: packaging, command line, supervision
// and shutdown actions, with no Kubernetes API involved (--no-wait).
import { createServer as createNetServer } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { binary, root, tempDir } from '../testbed/paths.ts';
import { proa, Run } from './proa.ts';
import { Recorder } from './recorder.ts';

const trap = join(root, 'test', 'bin', 'trap.sh');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

test('--version prints one line with version, commit and node', async () => {
  for (const flag of ['--version', '-V']) {
    const run = proa([flag]);
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    assert.match(run.stdout, new RegExp(`^proa ${pkg.version.replaceAll('.', '\\.')} \\(commit [0-9a-f]{7}|unknown, node v22\\.\\d+\\.\\d+\\)\\n$`));
  }
});

test('--help lists every option with its environment variable and default', async () => {
  const run = proa(['--help']);
  assert.equal((await run.exited).code, 0);
  for (const s of ['--shutdown-http-get', '-g,', 'PROA_SHUTDOWN_HTTP_POST', '--kill-signal', 'default: TERM', '--shutdown-http-timeout',
    'default: 5s', '--no-wait', 'PROA_DISABLED', '--ready-timeout', '--wait-for', '--ignore', '--container', 'RUST_LOG']) {
    assert.ok(run.stdout.includes(s), `help mentions ${s}`);
  }
});

test('bad input: one line on stderr naming the option, exit 2, nothing started or sent', async () => {
  const rec = await Recorder.start();
  const dir = tempDir();
  const marker = join(dir, 'ran');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--frobnicate', 'touch', marker], {}, /unknown option '--frobnicate'/],
    [['--no-wait', '-g', rec.url('/quit'), '--shutdown-http-timeout', '10 parsecs', 'touch', marker], {}, /--shutdown-http-timeout: "10 parsecs" is not a duration/],
    [['--no-wait', '-p', 'localhost:15020/quitquitquit', 'touch', marker], {}, /--shutdown-http-post: "localhost:15020\/quitquitquit" is not an http\(s\) URL/],
    [['--no-wait', '-g', rec.url('/quit'), '--kill-signal', 'SIGNOPE', 'touch', marker], {}, /--kill-signal: "SIGNOPE" is not a signal/],
    [['-g', rec.url('/quit'), 'touch', marker], { PROA_NO_WAIT: 'sometimes' }, /PROA_NO_WAIT="sometimes"/],
    [['--no-wait', '-g', rec.url('/quit')], {}, /missing COMMAND/],
  ];
  for (const [args, env, expected] of cases) {
    const run = proa(args, env);
    const exit = await run.exited;
    assert.equal(exit.code, 2, run.dump());
    assert.equal(run.text.length, 1, `one line: ${run.text.join('|')}`);
    assert.match(run.text[0]!, expected);
    assert.match(run.text[0]!, /proa --help/);
    assert.equal(run.lines.length, 0);
  }
  assert.throws(() => readFileSync(marker), 'the command never ran');
  assert.equal(rec.received.length, 0, 'no shutdown request was sent');
  await rec.stop();
});

test('exit codes: the command\'s own, 128+N for a signal, 127 not found, 126 not executable', async () => {
  const dir = tempDir();
  const noexec = join(dir, 'script');
  writeFileSync(noexec, '#!/bin/sh\nexit 0\n');
  chmodSync(noexec, 0o644);
  const cases: [string[], number][] = [
    [['sh', '-c', 'exit 0'], 0],
    [['sh', '-c', 'exit 3'], 3],
    [['sh', '-c', 'exit 255'], 255],
    [['sh', '-c', 'kill -KILL $$'], 137],
    [['sh', '-c', 'kill -SEGV $$'], 139],
    [['no-such-command-proa-test'], 127],
    [[noexec], 126],
    [[dir], 126],
  ];
  for (const [cmd, code] of cases) {
    const run = proa(['--no-wait', '--', ...cmd]);
    assert.equal((await run.exited).code, code, `${cmd.join(' ')}\n${run.dump()}`);
  }
  const missing = proa(['--no-wait', 'no-such-command-proa-test']);
  await missing.exited;
  assert.ok(missing.lines.some((l) => l.level === 'error' && JSON.stringify(l).includes('no-such-command-proa-test')));
});

test('the command is resolved through PATH and gets proa\'s environment and stdio', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'hello-proa'), '#!/bin/sh\necho "hi $GREETING $1"\n', { mode: 0o755 });
  const run = proa(['--no-wait', 'hello-proa', 'there'], { PATH: `${dir}:/usr/bin:/bin`, GREETING: 'from-env' });
  assert.equal((await run.exited).code, 0);
  assert.equal(run.stdout, 'hi from-env there\n');
});

test('forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH to the command', async () => {
  const run = proa(['--no-wait', trap]);
  await run.waitForStdout('ready');
  for (const s of ['INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'WINCH'] as const) {
    run.signal(`SIG${s}`);
    await run.waitForStdout(`got ${s}`);
  }
  run.signal('SIGTERM');
  assert.deepEqual(await run.exited, { code: 42, signal: null });
  assert.match(run.stdout, /got TERM/);
});

test('SIGUSR1 reaches the command and opens no inspector port', async () => {
  const run = proa(['--no-wait', trap]);
  await run.waitForStdout('ready');
  run.signal('SIGUSR1');
  await run.waitForStdout('got USR1');
  const pid = run.child.pid!;
  const sockets = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; }
  }).filter((l) => l.startsWith('socket:[')).map((l) => l.slice(8, -1)));
  const listening = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((cols) => cols[3] === '0A' && sockets.has(cols[9]!));
  assert.deepEqual(listening, [], 'proa listens on no TCP port');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 42);
});

test('NODE_OPTIONS is not applied to proa and reaches the command unchanged', async () => {
  const options = '--require /nonexistent/apm-agent.js --max-old-space-size=1';
  const run = proa(['--no-wait', 'sh', '-c', 'printf "%s" "$NODE_OPTIONS"'], { NODE_OPTIONS: options });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(run.stdout, options);
});

test('PROA_DISABLED=1: signal forwarding and exit code only, even with broken options', async () => {
  const rec = await Recorder.start();
  const run = proa(['-g', rec.url('/quit'), '--ready-timeout', 'never', trap], { PROA_DISABLED: 'true' });
  await run.waitForStdout('ready');
  run.signal('SIGHUP');
  await run.waitForStdout('got HUP');
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 42);
  assert.equal(rec.received.length, 0, 'no shutdown actions when disabled');
  await rec.stop();
});

test('shutdown requests: GET and POST, concurrent, logged with status and duration', async () => {
  const rec = await Recorder.start();
  rec.answers.set('/fail', 503);
  const run = proa(['--no-wait', '--shutdown-timeout', '1s', '-g', rec.url('/quit-get'), '--shutdown-http-post', rec.url('/quit-post'),
    '-p', rec.url('/fail'), '--', 'sh', '-c', 'exit 5'], { PROA_SHUTDOWN_HTTP_GET: rec.url('/ignored-by-flag') });
  assert.equal((await run.exited).code, 5, 'the command\'s code, whatever the answers');
  const byPath = new Map(rec.received.map((r) => [r.path, r]));
  assert.deepEqual([...byPath.keys()].sort(), ['/fail', '/quit-get', '/quit-post']);
  assert.equal(byPath.get('/quit-get')!.method, 'GET');
  const post = byPath.get('/quit-post')!;
  assert.equal(post.method, 'POST');
  assert.equal(post.body, '');
  assert.equal(post.headers['content-length'], '0');
  for (const r of rec.received) {
    assert.equal(r.headers['user-agent'], `proa/${pkg.version}`);
    assert.equal(r.headers.authorization, undefined);
  }
  const ok = run.lines.find((l) => l.msg === 'shutdown request answered' && l.url === rec.url('/quit-post'));
  assert.equal(ok?.status, 200);
  assert.equal(typeof ok?.durationMs, 'number');
  const bad = run.lines.find((l) => l.url === rec.url('/fail'));
  assert.equal(bad?.level, 'warn');
  assert.equal(bad?.status, 503);
  assert.ok(rec.received.filter((r) => r.path === '/fail').length > 1, 'a 503 is retried within the bound');
  const last = run.lines.at(-1)!;
  assert.equal(last.level, 'error', 'the last word names the action that never succeeded');
  assert.match(last.msg, new RegExp(`^shutdown action POST ${rec.url('/fail').replaceAll('.', '\\.')} did not succeed within 1000ms`));
  await rec.stop();
});

test('shutdown requests are bounded by --shutdown-http-timeout; failures are warnings', async () => {
  const rec = await Recorder.start();
  rec.answers.set('/hang', 'hang');
  const run = proa(['--no-wait', '--shutdown-timeout', '0', '--shutdown-http-timeout', '300ms', '-g', rec.url('/hang'), '-p', 'http://127.0.0.1:1/refused', 'true']);
  assert.equal((await run.exited).code, 0);
  const hang = run.lines.find((l) => l.url === rec.url('/hang'));
  assert.equal(hang?.level, 'warn');
  assert.match(String(hang?.error), /300ms/);
  const refused = run.lines.find((l) => l.url === 'http://127.0.0.1:1/refused');
  assert.equal(refused?.error, 'ECONNREFUSED');
  await rec.stop();
});

test('shutdown actions also run when the command cannot start', async () => {
  const rec = await Recorder.start();
  const run = proa(['--no-wait', '-p', rec.url('/quit'), 'no-such-command-proa-test']);
  assert.equal((await run.exited).code, 127);
  assert.deepEqual(rec.received.map((r) => r.path), ['/quit']);
  await rec.stop();
});

test('logs: JSON by default, text with --log-format text, level from PROA_LOG or RUST_LOG', async () => {
  const json = proa(['--no-wait', 'true'], { PROA_LOG: 'info' });
  await json.exited;
  const started = json.lines.find((l) => l.msg === 'command started')!;
  assert.equal(started.level, 'info');
  assert.match(started.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const quiet = proa(['--no-wait', 'true'], { PROA_LOG: '', RUST_LOG: 'hyper=debug,proa=warn' });
  await quiet.exited;
  assert.equal(quiet.lines.length, 0);
  const text = proa(['--no-wait', '--log-format', 'text', 'sh', '-c', 'exit 3', 'two words'], { PROA_LOG: 'info' });
  await text.exited;
  assert.ok(text.text.some((l) => / INFO +command started command=sh args=-c,"exit 3","two words" pid=\d+$/.test(l)), text.text.join('\n'));
  assert.ok(text.text.some((l) => / INFO +command exited command=sh exitCode=3$/.test(l)), 'no field says the same thing twice');
});

// --- in a PID namespace of its own ------------------------------------------------------

function unshareAvailable(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const ns = unshareAvailable() ? {} : { skip: 'unshare --pid needs root' };

test('as PID 1: forwards signals sent from outside, passes the exit code', ns, async () => {
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', binary, '--no-wait', trap], { PATH: process.env.PATH ?? '', PROA_LOG: 'debug' });
  await run.waitForStdout('ready ppid=1 ');
  const children = readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').trim().split(/\s+/);
  assert.equal(children.length, 1);
  const proaPid = Number(children[0]);
  process.kill(proaPid, 'SIGUSR2');
  await run.waitForStdout('got USR2');
  process.kill(proaPid, 'SIGTERM');
  assert.equal((await run.exited).code, 42, run.dump());
});

function inPidNamespace(script: string, env: Record<string, string> = {}): Run {
  return new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c', script],
    { PATH: process.env.PATH ?? '', PROA: binary, PROA_LOG: 'debug', ...env });
}

test('--kill signals processes by executable name; never PID 1, proa or its child', ns, async () => {
  const dir = tempDir();
  copyFileSync('/bin/sleep', join(dir, 'fake-envoy'));
  copyFileSync('/bin/sleep', join(dir, 'bystander'));
  chmodSync(join(dir, 'fake-envoy'), 0o755);
  chmodSync(join(dir, 'bystander'), 0o755);
  const run = inPidNamespace(`
    "$D/fake-envoy" 300 & envoy=$!
    "$D/bystander" 300 & other=$!
    "$PROA" --no-wait --shutdown-timeout 1s --kill fake-envoy --kill ghost -- true; echo "proa=$?"
    wait $envoy; echo "envoy=$?"
    kill $other; wait $other; echo "bystander=$?"`, { D: dir });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.match(run.stdout, /proa=0\nenvoy=143\nbystander=143\n/);
  const sent = run.lines.filter((l) => l.msg === 'sent signal');
  assert.deepEqual(sent.map((l) => [l.name, l.signal]), [['fake-envoy', 'SIGTERM']]);
  assert.ok(run.lines.some((l) => l.level === 'warn' && l.name === 'ghost'), 'a name that matched nothing is a warning');
});

test('--kill-all with --kill-signal: everything but PID 1, proa and its child', ns, async () => {
  const dir = tempDir();
  copyFileSync('/bin/sleep', join(dir, 'sidecar-a'));
  chmodSync(join(dir, 'sidecar-a'), 0o755);
  const run = inPidNamespace(`
    "$D/sidecar-a" 300 & a=$!
    sleep 300 & b=$!
    "$PROA" --no-wait -K --kill-signal HUP -- sh -c 'echo child-alive'; echo "proa=$?"
    wait $a; echo "a=$?"
    wait $b; echo "b=$?"`, { D: dir });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.match(run.stdout, /child-alive\nproa=0\na=129\nb=129\n/);
  const names = run.lines.filter((l) => l.msg === 'sent signal').map((l) => l.name).sort();
  assert.deepEqual(names, ['sidecar-a', 'sleep']);
});

// --- the binary alone, in a distroless-like root ---------------------------------------------

const allowedLibraries = /^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so/;

test('runs in a chroot holding only the binary and the libraries ldd lists (glibc, libstdc++, libgcc_s)', ns, async () => {
  const libs = execFileSync('ldd', [binary]).toString().split('\n')
    .map((l) => l.match(/(\S+\.so\S*)(?: => (\S+))?/)).filter((m) => m !== null)
    .map((m) => ({ name: m[1]!.split('/').pop()!, path: m[2] ?? (m[1]!.startsWith('/') ? m[1] : undefined) }));
  const extra = libs.filter((l) => !allowedLibraries.test(l.name));
  assert.deepEqual(extra.map((l) => l.name), [], 'no library beyond glibc, libstdc++ and libgcc_s');
  const jail = tempDir('proa-chroot-');
  for (const lib of libs) {
    if (!lib.path) continue;
    mkdirSync(join(jail, dirname(lib.path)), { recursive: true });
    copyFileSync(lib.path, join(jail, lib.path));
  }
  copyFileSync(binary, join(jail, 'proa'));
  chmodSync(join(jail, 'proa'), 0o755);
  const out = execFileSync('chroot', [jail, '/proa', '--version'], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } }).toString();
  assert.match(out, /^proa \S+ \(commit \S+, node v22\./);
});

test('a reader of stderr that goes away (EPIPE) costs log lines, never the exit code', async () => {
  const child = spawn(binary, ['--no-wait', '--', 'sh', '-c', 'sleep 0.2; exit 9'], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '', PROA_LOG: 'debug' } });
  child.stderr!.destroy();
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 9);
});

// --- the arm64 build (`npm run build -- --arch arm64`), under qemu-user ----------------------

const arm64 = join(root, 'dist', 'proa-linux-arm64');
const qemu = ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((q) => existsSync(q));
const armReady = existsSync(arm64) && qemu !== undefined && existsSync('/usr/aarch64-linux-gnu/lib/libc.so.6');

test('the arm64 binary is proa, runs a command and passes its exit code (under qemu)', armReady ? {} : { skip: 'no arm64 build or no qemu-aarch64 here' }, async () => {
  const libs = ['-L', '/usr/aarch64-linux-gnu'];
  assert.match(execFileSync(qemu!, [...libs, arm64, '--version']).toString(), /^proa \S+ \(commit \S+, node v22\./);
  const run = new Run(qemu!, [...libs, arm64, '--no-wait', '--', 'sh', '-c', 'echo "opts=$NODE_OPTIONS"; exit 5'], { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--require /nonexistent.js' });
  assert.equal((await run.exited).code, 5, run.dump());
  assert.equal(run.stdout, 'opts=--require /nonexistent.js\n');
  assert.ok(run.has('command started'));
});

test('shutdown requests over plain HTTP: path and query, Host, the URL\'s credentials as Basic auth (never logged)', async () => {
  const rec = await Recorder.start();
  const url = `http://envoy:s%40cret@127.0.0.1:${rec.port}/quitquitquit?drain=1`;
  const run = proa(['--no-wait', '-p', url, '--', 'true']);
  assert.equal((await run.exited).code, 0);
  const [r] = rec.received;
  assert.equal(r?.path, '/quitquitquit?drain=1');
  assert.equal(r?.headers.host, `127.0.0.1:${rec.port}`);
  assert.equal(r?.headers.authorization, `Basic ${Buffer.from('envoy:s@cret').toString('base64')}`);
  assert.equal(r?.headers.connection, 'close');
  assert.ok(!run.dump().includes('cret'), 'the password appears in no log line');
  await rec.stop();
});

test('shutdown requests over plain HTTP: an answer that arrives a byte at a time counts; one that is not HTTP is retried', async () => {
  const answers: string[] = [];
  const server = createNetServer((socket) => {
    // proa hangs up once it has the headers, while the rest still drips: that reset is
    // expected, and must not surface as an uncaught ECONNRESET here.
    socket.on('error', () => {});
    socket.once('data', () => {
      const text = answers.shift() ?? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      let i = 0;
      const drip = setInterval(() => {
        if (i < text.length && !socket.destroyed) socket.write(text[i++]!);
        else { clearInterval(drip); socket.end(); }
      }, 1);
      socket.once('close', () => clearInterval(drip));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  answers.push('hello\r\n\r\n');
  const run = proa(['--no-wait', '--shutdown-timeout', '5s', '-p', `http://127.0.0.1:${port}/quit`, '--', 'true']);
  assert.equal((await run.exited).code, 0);
  assert.equal(run.lines.find((l) => l.msg === 'shutdown request failed; retrying')?.error, 'not an HTTP answer');
  const ok = run.lines.find((l) => l.msg === 'shutdown request answered');
  assert.equal(ok?.status, 200);
  assert.equal(ok?.attempts, 2);
  server.close();
});

test('a PROA_* variable one letter from a real one: one warning naming the likely one; the run goes on', async () => {
  const run = proa(['--no-wait', '--', 'true'], { PROA_SHUTDOWN_TIMOUT: '0', PROA_VERSION: '9' });
  assert.equal((await run.exited).code, 0, run.dump());
  const warned = run.lines.filter((l) => l.level === 'warn' && /is not one of proa's/.test(l.msg));
  assert.deepEqual(warned.map((l) => l.msg), ["environment variable PROA_SHUTDOWN_TIMOUT is not one of proa's and is ignored; did you mean PROA_SHUTDOWN_TIMEOUT?"]);
});
