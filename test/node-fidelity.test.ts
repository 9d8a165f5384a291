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
      assert.ok(said.some((m) => f.says.test(m)), `proa says ${f.says}: ${lines.join('\n')}`);
    });
  }
}
