// The second hour's mistakes (issue 23), said as what they are, through the built binary:
// a --kill the kernel refuses (another user, no CAP_KILL) named as such, and proa check
// failing where that is the only way to stop the sidecar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';
import { binary } from '../testbed/paths.ts';
import { Run } from './proa.ts';

const pidNs = ((): boolean => {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'setpriv', '--reuid=65534', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})() ? {} : { skip: 'unshare --pid and setpriv need root' };

test('--kill of a sidecar proa may not signal (another user, no CAP_KILL): the cause named, not a missing process; proa check fails', pidNs, async (t) => {
  // proa as nobody, without capabilities; the sidecar as root, in a PID namespace of the test's own.
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  const run = new Run('unshare', ['--pid', '--fork', '--mount-proc', 'bash', '-c',
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
  const check = new Run('unshare', ['--pid', '--fork', '--mount-proc', 'env', ...env, 'bash', '-c',
    `(exec -a fluent-bit sleep 300) & s=$!; ${drop.join(' ')} "${binary}" check --container main --kill fluent-bit; echo "check=$?"; kill $s`], { PATH: process.env.PATH ?? '' });
  await check.exited;
  assert.match(check.stdout, /fail\s+--kill fluent-bit: pid \d+: not permitted to signal pid \d+: it runs as uid 0 and proa as uid 65534/, check.stdout);
  assert.match(check.stdout, /\ncheck=1\n/, check.stdout);
});
