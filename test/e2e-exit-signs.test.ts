// End to end, on the simulator with both API servers, the kubelet noticing exits a second
// late as the real one does (plegMs): proa judges a sidecar stopped by the fastest sign
// it has, and exits without waiting for the kubelet's word where the word adds nothing;
// where it does (a kill's exit code, a restart policy), it waits for it, bounded.
import assert from 'node:assert/strict';
import { node } from '../testbed/paths.ts';
import { freePort, httpSidecar, podManifest, proaContainer, proaLog, scenario, shutdownFlag, simulate, namedCopy } from './e2e.ts';

const test = scenario;
const pleg = { plegMs: 1000 };

test("a sidecar that answers its shutdown request, closes its port and exits: proa exits before the kubelet reports the sidecar's exit", async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('sign', { containers: [proaContainer([shutdownFlag(port)], ['true']), httpSidecar('proxy', port, 0.1)] }), pleg);
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 });
  assert.equal(outcome.phase, 'Succeeded');
  const proaExit = sim.timeline.find((e) => e.type === 'container-exit' && e.container === 'main')!;
  const reported = sim.timeline.find((e) => e.type === 'status' && e.container === 'proxy' && e.state === 'terminated 0')!;
  assert.ok(proaExit.t < reported.t, `proa exited (${proaExit.t} ms) before the kubelet reported the proxy's exit (${reported.t} ms)`);
  assert.ok(proaLog(sim, /^sidecar proxy has stopped: its endpoints refuse connections after its shutdown request was answered$/));
  assert.ok(proaLog(sim, '1/1 sidecars exited'));
});

test('a sidecar ended by --kill: its exit code is the kubelet\'s to tell, so proa waits for its word (143 named) before exiting', async (t, api) => {
  const agent = namedCopy('/bin/sleep', 'fake-agent');
  const sim = await simulate(t, api, podManifest('sign-kill', {
    shareProcessNamespace: true,
    containers: [proaContainer(['--kill=fake-agent', '--shutdown-timeout=10s'], ['true']), { name: 'agent', image: 'x', command: [agent, '300'] }],
  }), pleg);
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, agent: 143 });
  assert.ok(sim.logs('main').some((l) => /^sidecar agent exited with code 143 \(Error\) after proa stopped it/.test(l.msg)), 'the kubelet\'s word came before proa exited');
});

test('a sidecar that closes its port but keeps running, in a shared PID namespace: not taken as stopped; the bound passes and the error names it', async (t, api) => {
  const port = await freePort();
  // Answers /shutdown, closes its server and lingers (a proxy draining for good).
  const lingering = `const s=require('http').createServer((q,r)=>{r.end('ok');if(q.url==='/shutdown'){console.log('draining');s.close();s.closeIdleConnections();}});` +
    `s.listen(${port},()=>console.log('Starting the sidecar on port ${port}.'));setInterval(()=>{},1000);`;
  const sim = await simulate(t, api, podManifest('sign-linger', {
    shareProcessNamespace: true,
    containers: [
      proaContainer([shutdownFlag(port), '--shutdown-timeout=3s'], ['true']),
      { name: 'proxy', image: 'x', command: [node, '-e', lingering], readinessProbe: { httpGet: { port }, periodSeconds: 1 } },
    ],
  }), pleg);
  const exited = await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  assert.ok(sim.timeline.some((e) => e.type === 'log' && e.container === 'proxy' && e.line === 'draining'));
  assert.equal(proaLog(sim, /^sidecar proxy has stopped/), undefined);
  assert.ok(proaLog(sim, /^sidecar proxy is still running after 3000ms \(--shutdown-timeout\): the Pod will not complete on its own/));
  assert.ok(exited);
  sim.delete(1);
  await sim.finished;
});
