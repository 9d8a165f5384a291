// End to end, on the simulator with the fake API server (whose Events can be looked at
// and faulted): proa's steps as Events on its own Pod, never in the way of the Job.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { documentedRbac } from '../testbed/simulator/kubelet-api.ts';
import type { SimOptions } from '../testbed/simulator/simulator.ts';
import { freePort, httpSidecar, podManifest, proaContainer, proaLog, shutdownFlag, simulate } from './e2e.ts';

const eventWrites = (sim: { fake: { requests: { path: string; method: string }[] } }): number =>
  sim.fake.requests.filter((r) => /\/events(\/|$)/.test(r.path) && r.method !== 'GET').length;

async function job(t: TestContext, name: string, flags: string[] = [], opts: SimOptions = {}, before?: (fake: import('../testbed/api/fake-apiserver.ts').FakeApiServer) => void) {
  const port = await freePort();
  const sim = await simulate(t, 'fake', podManifest(name, { containers: [proaContainer([shutdownFlag(port), ...flags], ['true']), httpSidecar('proxy', port, 0.2)] }), opts);
  before?.(sim.fake);
  const outcome = await sim.finished;
  return { sim, outcome };
}

test('a fault-free Job: WaitingForSidecars, SidecarsReady, ShutdownSent, SidecarsStopped on the Pod, in order, through events.k8s.io/v1', { timeout: 60_000 }, async (t) => {
  const { sim, outcome } = await job(t, 'events');
  assert.equal(outcome.phase, 'Succeeded');
  const posted = sim.fake.postedEvents;
  assert.deepEqual(posted.map((p) => p.event.reason), ['WaitingForSidecars', 'SidecarsReady', 'ShutdownSent', 'SidecarsStopped']);
  const uid = String(sim.fake.pod(sim.namespace, 'events')?.metadata.uid);
  for (const { group, event } of posted) {
    assert.equal(group, 'events.k8s.io');
    assert.equal(event.type, 'Normal');
    assert.equal(event.reportingController, 'proa');
    assert.equal(event.reportingInstance, 'events/main');
    assert.deepEqual(event.regarding, { apiVersion: 'v1', kind: 'Pod', name: 'events', namespace: sim.namespace, uid, fieldPath: 'spec.containers{main}' });
    assert.match(String(event.eventTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  }
  assert.match(String(posted[0]!.event.note), /^waiting for sidecars to be ready: proxy$/);
  assert.match(String(posted[2]!.event.note), /^GET http:\/\/127\.0\.0\.1:\d+\/shutdown answered 200$/);
  assert.ok(eventWrites(sim) <= 6, `${eventWrites(sim)} Event requests`);
});

test('events.k8s.io not served: the core v1 API, with source.component proa and involvedObject', { timeout: 60_000 }, async (t) => {
  const { sim, outcome } = await job(t, 'events-core', [], {}, (fake) => fake.serveEventsGroup(false));
  assert.equal(outcome.phase, 'Succeeded');
  const posted = sim.fake.postedEvents;
  assert.ok(posted.length >= 3);
  for (const { group, event } of posted) {
    assert.equal(group, '');
    assert.deepEqual(event.source, { component: 'proa' });
    assert.equal(event.involvedObject.fieldPath, 'spec.containers{main}');
    assert.equal(event.involvedObject.kind, 'Pod');
  }
});

test('a Role without events: one info line naming the rule, nothing more tried, the Job unchanged', { timeout: 60_000 }, async (t) => {
  const rbac = documentedRbac().map((d) => (d.kind === 'Role' ? { ...d, rules: d.rules.filter((r: Json) => !r.resources.includes('events')) } : d));
  const { sim, outcome } = await job(t, 'events-forbidden', [], { rbac });
  assert.equal(outcome.phase, 'Succeeded');
  assert.equal(sim.fake.postedEvents.length, 0);
  assert.equal(eventWrites(sim), 1, 'the first create only');
  assert.ok(proaLog(sim, /^proa cannot post Events on its Pod \(403\): add to its Role the rule/));
});

test('Event writes answered 500, 429, slowly or never: the Job ends as it would, and proa still exits', { timeout: 60_000 }, async (t) => {
  for (const faults of [[500, 500, 429, 429], ['slow'], ['never', 'never']] as const) {
    const { sim, outcome } = await job(t, `events-${String(faults[0])}`, [], {}, (fake) => fake.failEventWrites(...faults));
    assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 }, String(faults));
    assert.equal(outcome.phase, 'Succeeded');
    assert.ok(proaLog(sim, '1/1 sidecars exited'));
  }
});

test('the last Event unanswered at exit: proa exits within its bound and names the Event it left unposted', { timeout: 60_000 }, async (t) => {
  const { sim, outcome } = await job(t, 'events-last', [], {}, (fake) => fake.failEventWrites('ok', 'ok', 'ok', 'never'));
  assert.equal(outcome.phase, 'Succeeded');
  assert.deepEqual(sim.fake.postedEvents.map((p) => p.event.reason), ['WaitingForSidecars', 'SidecarsReady', 'ShutdownSent']);
  assert.ok(proaLog(sim, /^Events not posted by exit \(the API did not answer within 300ms\): SidecarsStopped; /), 'the unposted Event named');
});

test('--events off: no Event request at all', { timeout: 60_000 }, async (t) => {
  const { sim, outcome } = await job(t, 'events-off', ['--events=off']);
  assert.equal(outcome.phase, 'Succeeded');
  assert.equal(eventWrites(sim), 0);
});
