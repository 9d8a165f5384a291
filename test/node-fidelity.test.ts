// The real node plays the manifests the simulator once rehearsed wrongly (test/fidelity.ts),
// with the expectations fidelity.test.ts holds the simulator to on both API servers: where
// they disagree, the simulator is wrong, and this says which way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { play } from '../testbed/backends.ts';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { fidelity } from './fidelity.ts';

const node = nodeFromEnv();

if (node) {
  for (const f of fidelity) {
    void test(`on the real node: ${f.name}`, { timeout: 180_000 }, async (t) => {
      const played = await play('node', f.manifest, { node });
      t.after(() => played.stop());
      const outcome = await played.finished;
      const lines = await played.logs('main');
      assert.equal(outcome.phase, f.phase, lines.join('\n'));
      assert.equal(outcome.exitCodes.main, f.mainExit, lines.join('\n'));
      const said = lines.flatMap((l) => {
        try {
          return [String((JSON.parse(l) as { msg?: unknown }).msg)];
        } catch {
          return [];
        }
      });
      for (const says of f.says) assert.ok(said.some((m) => says.test(m)), `proa says ${says}: ${lines.join('\n')}`);
    });
  }
}

if (node) {
  void test('on the real node: a CronJob runs at once, as kubectl create job --from=cronjob/NAME runs it, not at its schedule', { timeout: 180_000 }, async (t) => {
    const control = fidelity.find((f) => f.phase === 'Succeeded')!;
    // The control's Job, as the jobTemplate of a CronJob due once a year.
    const asCron = control.manifest.replace(/apiVersion: batch\/v1\nkind: Job\nmetadata:\n  name: (\S+)\nspec:\n((?: {2}.*\n)+?)(?=---)/,
      (_all, name: string, spec: string) => `apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: ${name}\nspec:\n  schedule: "0 0 1 1 *"\n  jobTemplate:\n    spec:\n${spec.replace(/^/gm, '    ').replace(/ +$/, '')}`);
    assert.match(asCron, /kind: CronJob/);
    const played = await play('node', asCron, { node });
    t.after(() => played.stop());
    assert.ok(played.timeline.some((e) => e.type === 'job-from-cronjob' && e.job === 'done-right-now'), JSON.stringify(played.timeline.slice(0, 3)));
    const outcome = await played.finished;
    assert.equal(outcome.phase, 'Succeeded');
    assert.equal(outcome.exitCodes.main, 0);
  });
}
