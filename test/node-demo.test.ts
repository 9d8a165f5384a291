// `npm run demo -- FILE --node=real` as a user runs it on a CronJob: the CronJob's Job
// runs at once (kubectl create job --from), and a SIGTERM deletes the Pod and stops the
// demo's own node, leaving nothing of it running. A node of its own beside the runner's:
// in the node tier, where the machine is known to run one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { node, root, tempDir } from '../testbed/paths.ts';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { Run } from './proa.ts';

/** Every process under `pid`, from /proc's parent links. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  const out: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    frontier = [...parent].filter(([, pp]) => frontier.includes(pp)).map(([p]) => p);
    out.push(...frontier);
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

if (nodeFromEnv()) {
  void test('npm run demo -- CRONJOB --node=real: its Job at once; SIGTERM deletes the Pod and stops the node', { timeout: 300_000 }, async (t) => {
    const file = join(tempDir('node-demo-'), 'cronjob.yaml');
    writeFileSync(file, `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 1 1 *"
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: registry.example/report:3.1
            command: [sleep, "300"]
`);
    const run = new Run(node, [join(root, 'testbed', 'demo.ts'), file, '--node=real'], { PATH: process.env.PATH ?? '' });
    t.after(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL'); });
    const printed = async (text: string): Promise<void> => {
      while (!run.stdout.includes(text)) {
        const more = await new Promise<boolean>((resolve) => {
          run.child.stdout!.once('data', () => resolve(true));
          void run.exited.then(() => resolve(false));
        });
        if (!more && !run.stdout.includes(text)) throw new Error(`the demo ended without printing ${JSON.stringify(text)}:\n${run.stdout}\n${run.text.join('\n')}`);
      }
    };
    await printed('job nightly-now --from=cronjob/nightly');
    await printed('Pod phase Running');
    const theirs = descendants(run.child.pid!);
    assert.ok(theirs.length > 3, 'the demo runs a node of its own');
    run.signal('SIGTERM');
    await run.exited;
    assert.match(run.stdout, /SIGTERM: the Pod is being deleted/);
    assert.match(run.stdout, /Pod (deleted|finished): phase Failed/);
    assert.doesNotMatch(run.stdout, /Job complete\.|NaN/);
    assert.deepEqual(theirs.filter(alive), [], 'nothing of the demo\'s node runs on');
  });
}
