// Several programs in one Pod, each wrapped by proa, sharing one sidecar (issue 17, part
// 1), on every back end: the sidecar is asked to stop once, after the last program has
// finished, whichever ends first; each proa exits with its own program's code; no proa
// says anything bad about a peer.
import assert from 'node:assert/strict';
import {
  freePort, httpSidecar, neverReady, podManifest, proaContainer, proaLog, scenario, shutdownFlag, simulate,
} from './e2e.ts';
import type { Simulator } from '../testbed/simulator/simulator.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { execArgv, runtime } from '../testbed/images/runtime.ts';
import { binary } from '../testbed/paths.ts';

const test = scenario;

function errorsOf(sim: Simulator, container: string): string[] {
  return sim.logs(container).filter((l) => l.level === 'error' || (l.level === 'warn' && /app-|peer/.test(String(l.msg)))).map((l) => String(l.msg));
}

for (const first of ['fast', 'slow'] as const) {
  test(`two programs wrapped by proa and one proxy (${first === 'fast' ? 'the first in the spec ends first' : 'the first in the spec ends last'}): one shutdown, after the last program`, async (t, api) => {
    const port = await freePort();
    // proa where the Dockerfile puts it: how a peer is known from the spec (images.ts runs the build there).
    const wrapped = (name: string, script: string): Json => ({ ...proaContainer([shutdownFlag(port)], ['sh', '-c', script], name), command: ['/usr/local/bin/proa', shutdownFlag(port), '--', 'sh', '-c', script] });
    const fast = wrapped('app-fast', 'sleep 0.3; exit 3');
    const slow = wrapped('app-slow', 'sleep 2; exit 0');
    const sim = await simulate(t, api, podManifest(`peers-${first}`, {
      containers: first === 'fast' ? [fast, slow, httpSidecar('proxy', port)] : [slow, fast, httpSidecar('proxy', port)],
    }), { runtime });
    const outcome = await sim.finished;
    assert.deepEqual([outcome.exitCodes['app-fast'], outcome.exitCodes['app-slow'], outcome.exitCodes.proxy], [3, 0, 0], JSON.stringify(outcome));
    const shutdowns = sim.timeline.filter((e) => e.type === 'log' && e.container === 'proxy' && e.line === 'Received /shutdown; shutting down.');
    assert.equal(shutdowns.length, 1, 'asked once');
    const slowDone = proaLog(sim, 'command exited', 'app-slow')!;
    assert.ok(shutdowns[0]!.t > slowDone.t, 'after the last program ended');
    for (const c of ['app-fast', 'app-slow']) {
      assert.deepEqual(errorsOf(sim, c), [], `${c}: no error, no warning about a peer`);
      const found = sim.logs(c).find((l) => l.msg === 'found the Pod')!;
      assert.deepEqual(found.sidecars, ['proxy'], `${c} awaits the proxy only`);
      assert.deepEqual(found.peers, [c === 'app-fast' ? 'app-slow' : 'app-fast']);
    }
    const leaving = first === 'fast' ? 'app-slow' : 'app-fast';
    assert.ok(sim.logs(leaving).some((l) => /acts for the other programs of this Pod and is alive/.test(String(l.msg))), `${leaving} left the sidecar to its peer`);
    const proxyExit = sim.timeline.find((e) => e.type === 'container-exit' && e.container === 'proxy')!;
    t.diagnostic(`the proxy exited ${((proxyExit.t - slowDone.t) / 1000).toFixed(2)} s after the last program ended`);
  });
}

test('peers that stop early: only the acting one sends the actions (a --ready-timeout in both)', async (t, api) => {
  const port = await freePort();
  const wrapped = (name: string): Json => ({
    ...proaContainer([], ['true'], name),
    command: ['/usr/local/bin/proa', shutdownFlag(port), '--ready-timeout=1500ms', '--', 'true'],
  });
  const sim = await simulate(t, api, podManifest('peers-early', {
    containers: [wrapped('app-a'), wrapped('app-b'), httpSidecar('proxy', port, 0.1, neverReady)],
  }), { runtime });
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'app-b');
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'app-a');
  const asked = sim.timeline.filter((e) => e.type === 'log' && e.container === 'proxy' && e.line === 'Received /shutdown; shutting down.');
  assert.equal(asked.length, 1, 'asked once');
  const senders = ['app-a', 'app-b'].filter((c) => sim.logs(c).some((l) => l.msg === 'shutdown request answered'));
  assert.equal(senders.length, 1, `one proa sent it: ${senders.join(', ')}`);
  // The sender timed out (5); the other either timed out too, or saw first the proxy that
  // the sender had stopped, terminated for good (4): both are its to say.
  const code = (c: string): unknown => sim.timeline.find((e) => e.type === 'container-exit' && e.container === c)?.exitCode;
  assert.equal(code(senders[0]!), 5);
  assert.ok([4, 5].includes(code(senders[0] === 'app-a' ? 'app-b' : 'app-a') as number));
});

test('proa check lists the peers and who acts; a peer with other actions is a warning', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('peers-check', {
    containers: [
      { ...proaContainer([], ['sleep', '30'], 'app-a'), command: ['/usr/local/bin/proa', shutdownFlag(port), '--', 'sleep', '30'] },
      { ...proaContainer([], ['sleep', '30'], 'app-b'), command: ['/usr/local/bin/proa', '-p', `http://127.0.0.1:${port}/other`, '--', 'sleep', '30'] },
      httpSidecar('proxy', port, 0.1),
    ],
  }), { runtime, ownPidNamespace: ['app-a'] });
  await sim.waitFor((e) => e.type === 'log' && e.container === 'app-a' && String(e.line).includes('"command started"'));
  await sim.exec('app-a', execArgv(['proa', 'check']), ['proa', 'check']);
  const out = sim.timeline.filter((e) => e.type === 'exec-output').map((e) => String(e.line)).join('\n');
  assert.match(out, /info +app-b also run proa: the sidecars are stopped once, after the last program, by the first of app-a, app-b whose program has not finished for good \(now: this proa\)/, out);
  assert.match(out, /warn +peer app-b has other shutdown actions, bounds or peers than this proa/, out);
  assert.doesNotMatch(out, /app-b has no readinessProbe/);
  sim.delete(1);
  await sim.finished;
});

test('a peer whose proa starts late (named by --peer): the one that finishes first waits for its answer rather than acting too', async (t, api) => {
  const port = await freePort();
  // app-a is first in the spec, its proa starts a second late: until then it does not answer.
  const late = { ...proaContainer([], ['true'], 'app-a'), command: ['sh', '-c', `sleep 1; exec /usr/local/bin/proa ${shutdownFlag(port)} --peer app-b -- sh -c 'sleep 0.5; exit 0'`] };
  const early = { ...proaContainer([], ['true'], 'app-b'), command: ['/usr/local/bin/proa', shutdownFlag(port), '--peer', 'app-a', '--', 'true'] };
  const sim = await simulate(t, api, podManifest('peers-late', { containers: [late, early, httpSidecar('proxy', port, 0.1)] }), {
    runtime: (c, argv) => runtime(c, argv.map((a) => a.replace('exec /usr/local/bin/proa', `exec ${binary}`))),
  });
  const outcome = await sim.finished;
  assert.deepEqual([outcome.exitCodes['app-a'], outcome.exitCodes['app-b'], outcome.exitCodes.proxy], [0, 0, 0], JSON.stringify(outcome));
  assert.equal(sim.timeline.filter((e) => e.type === 'log' && e.container === 'proxy' && e.line === 'Received /shutdown; shutting down.').length, 1);
  assert.ok(sim.logs('app-b').some((l) => /^proa in container app-a acts/.test(String(l.msg))), 'app-b waited for app-a, then left');
});
