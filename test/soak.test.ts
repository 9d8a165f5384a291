// The short form of `npm run soak`: a few simulated Jobs with fixed seeds, each with
// random faults, and every promise checked after each (see test/soak.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from './soak.ts';

test('soak, short form: 8 Jobs with faults, no promise broken', { timeout: 240_000 }, async () => {
  const report = await soak({ jobs: 8, seed: 20261126, parallel: 3 });
  assert.equal(report.jobs, 8);
  assert.ok(report.faultsInjected >= 8, `faults were injected: ${JSON.stringify(report.faultKinds)}`);
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures, null, 2));
});
