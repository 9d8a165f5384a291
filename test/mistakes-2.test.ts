// The second hour's mistakes (issue 23), said as what they are, through the built binary:
// a --kill the kernel refuses (another user, no CAP_KILL) named as such, and proa check
// failing where that is the only way to stop the sidecar; bad input inside a Pod, which
// still stops what parsed where that is safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';
import { binary as built, forAnyUser } from '../testbed/paths.ts';
import { Run } from './proa.ts';

// Run as nobody: the binary where nobody may reach it (a clone in a private directory is not).
const binary = forAnyUser(built);

const pidNs = ((): boolean => {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'setpriv', '--reuid=65534', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})() ? {} : { skip: 'unshare --pid and setpriv need root' };

test('--kill of a sidecar proa may not signal (another user, no CAP_KILL): the cause named, not a missing process; proa check fails', pidNs, async (t) => {
  // proa as nobody, without capabilities; the sidecar as root, in a PID namespace of the test's own.
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  const run = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c',
    `(exec -a fluent-bit sleep 300) & s=$!; ${drop.join(' ')} "$PROA" --no-wait --kill fluent-bit --shutdown-timeout 1s -- true; echo "proa=$?"; kill $s`],
  { PATH: process.env.PATH ?? '', PROA: binary, PROA_LOG: 'debug' });
  await run.exited;
  assert.match(run.stdout, /proa=0/, run.dump());
  const denied = run.lines.filter((l) => /^not permitted to signal fluent-bit \(pid \d+\): it runs as uid 0 and proa as uid 65534, without CAP_KILL; run proa's container as the same user \(securityContext.runAsUser: 0\), or add CAP_KILL/.test(l.msg));
  assert.equal(denied.length, 1, run.dump());
  assert.ok(!run.lines.some((l) => /Istio|no visible process|no such process/.test(l.msg + JSON.stringify(l))), run.dump());

  // proa check, as the same user in the same kind of Pod: the only action cannot work.
  const pod = makePod({ name: 'eperm', containers: ['main', 'logger'] });
  running(pod, 'logger', true);
  const b = await bed(t, pod);
  execFileSync('chmod', ['-R', 'a+rX', join(b.saDir, '..', '..')]);
  const env = Object.entries({ ...b.env, PATH: process.env.PATH ?? '' }).map(([k, v]) => `${k}=${v}`);
  const check = new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'env', ...env, 'bash', '-c',
    `(exec -a fluent-bit sleep 300) & s=$!; ${drop.join(' ')} "${binary}" check --container main --kill fluent-bit; echo "check=$?"; kill $s`], { PATH: process.env.PATH ?? '' });
  await check.exited;
  assert.match(check.stdout, /fail\s+--kill fluent-bit: pid \d+: not permitted to signal pid \d+: it runs as uid 0 and proa as uid 65534/, check.stdout);
  assert.match(check.stdout, /\ncheck=1\n/, check.stdout);
});

// --- bad input inside a Pod ---------------------------------------------------------------

/** The last log line, which says what was sent. */
const last = (run: Run): string => run.lines.at(-1)?.msg ?? '';

test('a misspelt flag inside a Pod: the actions that parsed are sent, then exit 2 saying so; outside a Pod nothing is', async (t) => {
  const pod = makePod({ name: 'typo', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const run = b.run(['-p', b.rec.url('/quit'), '--ready-timout', '5m', '--', 'true']);
  assert.equal((await run.exited).code, 2, run.dump());
  assert.match(run.text[0]!, /unknown option '--ready-timout'; did you mean --ready-timeout\?/);
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit']);
  assert.match(last(run), new RegExp(`^bad input inside a Pod: the sidecars were asked to stop with what parsed: POST http://127\\.0\\.0\\.1:${b.rec.port}/quit \\(done\\); fix the input above \\(exit 2\\)$`), run.dump());
  // A bad value of one action: the others still go.
  const partly = b.run(['-p', b.rec.url('/quit2'), '-g', 'http//nope', '--', 'true']);
  assert.equal((await partly.exited).code, 2, partly.dump());
  assert.deepEqual(b.rec.received.map((r) => r.path), ['/quit', '/quit2']);
  // Outside a Pod (no token, no POD_NAME): one line, nothing sent.
  const outside = new Run(binary, ['-p', b.rec.url('/quit3'), '--ready-timout', '5m', '--', 'true'], { PATH: process.env.PATH ?? '' });
  assert.equal((await outside.exited).code, 2);
  assert.equal(outside.text.length, 1);
  assert.deepEqual(outside.lines, []);
  assert.equal(b.rec.received.length, 2);
});

test('bad input inside a Pod sends nothing where that is not safe: whose sidecars unclear, a PROA_* list split wrongly, a restart to come, a peer acting for all', async (t) => {
  const pod = makePod({ name: 'unsafe', containers: ['main', 'proxy'] });
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['-p', b.rec.url('/a'), '--container'], {}, /--container has no value/],
    [['--ready-timeout', 'soon', '--', 'true'], { PROA_SHUTDOWN_HTTP_POST: `${b.rec.url('/b')},http//nope` }, /PROA_SHUTDOWN_HTTP_POST has a bad item, and a comma inside a URL may have split it wrongly/],
  ];
  for (const [args, env, why] of cases) {
    const run = b.run(args, env);
    assert.equal((await run.exited).code, 2, run.dump());
    assert.match(last(run), /^bad input inside a Pod: nothing was sent to the sidecars, since /);
    assert.match(last(run), why);
  }
  const again = makePod({ name: 'again', containers: ['main', 'proxy'], restartPolicy: 'OnFailure' });
  running(again, 'proxy', true);
  const b2 = await bed(t, again);
  const retried = b2.run(['-p', b2.rec.url('/c'), '--ready-timout', '5m', '--', 'true']);
  assert.equal((await retried.exited).code, 2, retried.dump());
  assert.match(last(retried), /nothing was sent to the sidecars, since the Pod's restartPolicy OnFailure has the kubelet run proa again after exit code 2/);
  // A peer that does not act for all: `first` runs proa too, and answers on its channel.
  const id = `${process.pid}-0000-4000-8000-${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
  const peers = makePod({ name: 'peer-typo', containers: ['first', 'main', 'proxy'] });
  peers.metadata.uid = id;
  for (const c of peers.spec.containers) if (c.name !== 'proxy') c.command = ['/usr/local/bin/proa', '--', 'app'];
  running(peers, 'proxy', true);
  running(peers, 'first', false);
  const b3 = await bed(t, peers);
  const first = createServer((s) => s.on('error', () => {}).end(`proa peer ${id} first\n`));
  await new Promise<void>((resolve) => first.listen(`\0proa/${id}/first`, resolve));
  t.after(() => first.close());
  const peer = b3.run(['--container', 'main', '-p', b3.rec.url('/d'), '--ready-timout', '5m', '--', 'true']);
  assert.equal((await peer.exited).code, 2, peer.dump());
  assert.match(last(peer), /nothing was sent to the sidecars, since proa in container first acts for the other programs of this Pod/);
  assert.deepEqual([b.rec, b2.rec, b3.rec].flatMap((r) => r.received), []);
});
