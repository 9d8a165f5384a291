// The simulator's rehearsal of what a cluster refuses (test/fidelity.ts): it must not say
// yes where the real node says no. On the fake and the real API server; the real node
// plays the same manifests in node-fidelity.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { play } from '../testbed/backends.ts';
import { podNetworksAvailable } from '../testbed/simulator/pod-network.ts';
import { backends } from './e2e.ts';
import { fidelity } from './fidelity.ts';

const skip = podNetworksAvailable() ? false : 'the Pod\'s own network namespace (its IP) needs root';

for (const f of fidelity) {
  for (const backend of backends) {
    void test(`${f.name} [${backend === 'fake' ? 'fake' : 'real'} API server]`, { timeout: 120_000, skip }, async (t) => {
      const played = await play(backend, f.manifest);
      t.after(() => played.stop());
      const outcome = await played.finished;
      const logs = (await played.logs('main')).join('\n');
      assert.equal(outcome.phase, f.phase, logs);
      assert.equal(outcome.exitCodes.main, f.mainExit, logs);
      const said = (await played.logs('main')).flatMap((l) => {
        try {
          return [String((JSON.parse(l) as { msg?: unknown }).msg)];
        } catch {
          return [];
        }
      });
      for (const says of f.says) assert.ok(said.some((m) => says.test(m)), `proa says ${says}: ${logs}`);
    });
  }
}
