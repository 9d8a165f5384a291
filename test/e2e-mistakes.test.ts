// The mistakes proa can see (issue 17, part 3), as scenarios on every back end, from
// manifests a user would write: a shutdown target at a port nobody listens on, and a
// spec proa cannot follow. A request refused for good (Linkerd's 404) and Vault's
// injected agent are played by test/examples.test.ts on the examples themselves.
import assert from 'node:assert/strict';
import { freePort, httpSidecar, podManifest, proaContainer, proaLog, scenario, shutdownFlag, simulate } from './e2e.ts';

const test = scenario;

test('a shutdown target at a port nobody listens on, while the sidecar is ready: "a wrong port?" naming the ports the Pod uses', async (t, api) => {
  const [port, wrong] = [await freePort(), await freePort()];
  const sim = await simulate(t, api, podManifest('wrong-port', {
    terminationGracePeriodSeconds: 2,
    containers: [proaContainer([`-g=http://127.0.0.1:${wrong}/shutdown`], ['true']), httpSidecar('proxy', port, 0.1)],
  }));
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  const warned = sim.logs('main').find((l) => l.msg === 'shutdown request failed; retrying');
  assert.equal(warned?.hint, `a wrong port? nothing listens on ${wrong}; the Pod's containers declare or probe ${port}`);
  sim.delete(1);
  await sim.finished;
});

test('a --wait-for the Pod lacks: exit 2, the shutdown runs, and its wait says why and where its bound comes from', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('bad-spec', {
    containers: [proaContainer([shutdownFlag(port), '--wait-for=prxy'], ['true']), httpSidecar('proxy', port, 0.1)],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.exitCodes.main, 2);
  const waiting = proaLog(sim, 'waiting for the sidecars to exit');
  const line = JSON.parse(String(waiting!.line)) as { because: string; bound: string };
  assert.match(line.because, /^the Pod spec could not be followed \(--wait-for: the Pod has no container "prxy".*\), so every regular container but proa's own is awaited$/);
  assert.equal(line.bound, "the Pod's terminationGracePeriodSeconds");
});
