// End to end, on the simulator with both API servers: container restart rules (a
// container's own restartPolicy and restartPolicyRules, RestartAllContainers) and a
// sidecar's exit code after proa stopped it. The same Pods run on the real node in
// node-restart-rules.test.ts, which holds the simulator to the kubelet.
import assert from 'node:assert/strict';
import { node, tempDir } from '../testbed/paths.ts';
import { freePort, httpSidecar, podManifest, proaContainer, proaLog, servingLine, shutdownFlag, simulate, scenario, namedCopy } from './e2e.ts';

const test = scenario;

/** A program that exits `first` on its first run and 0 on the next (its state in a directory both runs see). */
const failsOnce = (first: number): string[] => {
  const dir = tempDir();
  return ['sh', '-c', `if [ -e ${dir}/ran ]; then echo second run; exit 0; fi; touch ${dir}/ran; echo first run; exit ${first}`];
};

const quits = (sim: { timeline: { type: string; container?: string; line?: unknown }[] }, container: string): number =>
  sim.timeline.filter((e) => e.type === 'log' && e.container === container && e.line === 'Received /shutdown; shutting down.').length;

test('a restart rule on proa\'s container (Restart on 42) under the Pod\'s Never: the sidecar stays up for the retry, asked to quit once, and the Job completes', async (t, api) => {
  const port = await freePort();
  const main = { ...proaContainer([shutdownFlag(port)], failsOnce(42)), restartPolicy: 'Never', restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }] };
  const sim = await simulate(t, api, podManifest('rule-restart', { containers: [main, httpSidecar('proxy', port)] }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0, proxy: 0 }, restarts: { main: 1, proxy: 0 } });
  assert.equal(quits(sim, 'proxy'), 1, 'asked to quit once, after the second run');
  assert.ok(proaLog(sim, /^the command exited 42 and restartPolicyRules\[0\] \(Restart on exit codes In \[42\]\) restarts this container: the sidecars stay up for the retry/));
  assert.equal(sim.logs('main').find((l) => l.msg === 'found the Pod')?.ownRestart, 'restartPolicyRules[0] (Restart on exit codes In [42]), else its restartPolicy Never');
});

test('RestartAllContainers on proa\'s container: proa sends nothing and says so; the kubelet restarts the whole Pod, and the fresh run completes it', async (t, api) => {
  const port = await freePort();
  const main = { ...proaContainer([shutdownFlag(port)], failsOnce(42)), restartPolicy: 'Never', restartPolicyRules: [{ action: 'RestartAllContainers', exitCodes: { operator: 'In', values: [42] } }] };
  const sim = await simulate(t, api, podManifest('rule-restart-all', {
    initContainers: [{ name: 'setup', image: 'app', command: ['sh', '-c', 'echo setup ran'] }],
    containers: [main, httpSidecar('proxy', port)],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Succeeded');
  assert.deepEqual(outcome.exitCodes, { setup: 0, main: 0, proxy: 0 });
  assert.ok(sim.timeline.some((e) => e.type === 'restart-all' && e.container === 'main'), 'the kubelet restarted every container');
  assert.equal(sim.timeline.filter((e) => e.type === 'log' && e.container === 'setup' && e.line === 'setup ran').length, 2, 'the init container ran again first');
  assert.equal(quits(sim, 'proxy'), 1, 'asked to quit once, by the second run');
  assert.ok(proaLog(sim, /^the command exited 42 and restartPolicyRules\[0\] \(RestartAllContainers on exit codes In \[42\]\) restarts every container of the Pod: .*proa sends no shutdown/));
  // The second proa waited for the restarted sidecar as at a fresh start.
  const starts = sim.timeline.filter((e) => e.type === 'log' && e.container === 'main' && /"msg":"command started"/.test(String(e.line)));
  assert.equal(starts.length, 2);
  const restarted = sim.timeline.filter((e) => e.type === 'container-start' && e.container === 'proxy')[1]!;
  const servingAgain = sim.timeline.find((e) => e.type === 'log' && e.container === 'proxy' && servingLine.test(String(e.line)) && e.t > restarted.t)!;
  assert.ok(servingAgain && starts[1]!.t > servingAgain.t, 'the second command started after the restarted sidecar served');
});

test('a sidecar whose own restartPolicy Always starts it again after proa stops it: a warning at start, and at its exit', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('sidecar-always', {
    containers: [proaContainer([shutdownFlag(port), '--shutdown-timeout=3s'], ['true']), { ...httpSidecar('proxy', port), restartPolicy: 'Always' }],
  }), { backoffBaseMs: 300 });
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  assert.ok(proaLog(sim, /^sidecar proxy: its restartPolicy Always restarts it after exit code 0, .*the Job never completes\. Give it restartPolicy: Never/));
  assert.ok(proaLog(sim, /^sidecar proxy exited with code 0 \(Completed\) and its restartPolicy Always starts it again: the Job will not complete/));
  await sim.waitFor((e) => e.type === 'container-restart' && e.container === 'proxy');
  sim.delete(1);
  await sim.finished;
});

test('a sidecar ended by --kill that does not handle TERM exits 143 under Never: proa warns that the Pod fails although the program succeeded, and the Pod is Failed', async (t, api) => {
  const agent = namedCopy('/bin/sleep', 'fake-agent');
  const sim = await simulate(t, api, podManifest('sidecar-143', {
    shareProcessNamespace: true,
    containers: [proaContainer(['--kill=fake-agent', '--shutdown-timeout=5s'], ['true']), { name: 'agent', image: 'x', command: [agent, '300'] }],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, agent: 143 });
  assert.equal(outcome.phase, 'Failed');
  const warned = sim.logs('main').find((l) => /^sidecar agent exited with code 143 \(Error\) after proa stopped it, and will not be restarted: a Pod succeeds only when every container exits 0, so this Pod will be Failed although the program succeeded/.test(String(l.msg)));
  assert.ok(warned, sim.logs('main').map((l) => l.msg).join('\n'));
  assert.equal(warned.level, 'warn');
  assert.match(String(warned.msg), /--kill-signal with a signal it handles/);
});

test('another container\'s RestartAllContainers rule fires while the program runs: proa is killed without warning, and the next run starts fresh and completes the Job', async (t, api) => {
  const port = await freePort();
  const dir = tempDir();
  // Serves at once; on its first run it exits 7 after 1.5 s, which its rule answers with a restart of every container.
  const flaky = `const fs = require('node:fs'); const s = require('node:http').createServer((q, r) => {
    if (q.url === '/shutdown') { console.log('Received /shutdown; shutting down.'); r.end('bye', () => process.exit(0)); return; } r.end('ok'); });
    s.listen(${port}, '127.0.0.1'); if (!fs.existsSync('${dir}/crashed')) { fs.writeFileSync('${dir}/crashed', ''); setTimeout(() => process.exit(7), 1500); }`;
  const sim = await simulate(t, api, podManifest('other-restarts-all', {
    containers: [
      proaContainer([shutdownFlag(port)], ['sh', '-c', `if [ -e ${dir}/ran ]; then echo second run; exit 0; fi; touch ${dir}/ran; echo first run; sleep 60`]),
      { name: 'proxy', image: 'node', command: [node, '-e', flaky], restartPolicy: 'Never',
        restartPolicyRules: [{ action: 'RestartAllContainers', exitCodes: { operator: 'In', values: [7] } }],
        readinessProbe: { httpGet: { host: '127.0.0.1', port, path: '/' }, periodSeconds: 1 } },
    ],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.phase, 'Succeeded', JSON.stringify(outcome));
  assert.ok(sim.timeline.some((e) => e.type === 'restart-all' && e.container === 'proxy'));
  assert.deepEqual(sim.timeline.filter((e) => e.type === 'log' && e.container === 'main' && /run$/.test(String(e.line))).map((e) => e.line), ['first run', 'second run']);
  assert.equal(quits(sim, 'proxy'), 1, 'asked to quit once, by the second run');
});
