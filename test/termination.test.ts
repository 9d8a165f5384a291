// The termination message's place (src/report/termination.ts), with the real binary and the fake
// API server: the Pod spec's terminationMessagePath for proa's own container, where the
// kubelet made the file; nothing created where it did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../testbed/paths.ts';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';

test("the spec's terminationMessagePath for proa's container: the summary is written there", async (t) => {
  const file = join(tempDir(), 'termination-log');
  writeFileSync(file, ''); // the kubelet's file, mounted at the spec's path
  const pod = makePod({ name: 'msg', containers: ['main', 'proxy'] });
  pod.spec.containers[0].terminationMessagePath = file;
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', '--', 'sh', '-c', 'exit 7']);
  assert.equal((await run.exited).code, 7, run.dump());
  assert.match(readFileSync(file, 'utf8'), /^proa exited 7; the program: exit code 7\nsidecars ready after \d+\.\ds \(proxy\)\n/);
});

test('a terminationMessagePath whose file the kubelet did not make: nothing is created', async (t) => {
  const file = join(tempDir(), 'not-mounted');
  const pod = makePod({ name: 'nomsg', containers: ['main', 'proxy'] });
  pod.spec.containers[0].terminationMessagePath = file;
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(existsSync(file), false);
});

test("the program's own termination message is kept: proa writes only a termination log that is still empty", async (t) => {
  const file = join(tempDir(), 'termination-log');
  writeFileSync(file, '');
  const pod = makePod({ name: 'own', containers: ['main', 'proxy'] });
  pod.spec.containers[0].terminationMessagePath = file;
  running(pod, 'proxy', true);
  const b = await bed(t, pod);
  // As many programs do: their own reason, written where the kubelet reads it.
  const run = b.run(['--shutdown-timeout', '0', '--', 'sh', '-c', `printf 'checksum mismatch in part 7' > ${file}; exit 1`]);
  assert.equal((await run.exited).code, 1, run.dump());
  assert.equal(readFileSync(file, 'utf8'), 'checksum mismatch in part 7');
});
