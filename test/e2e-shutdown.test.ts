// End to end, the promise that the Job ends: on every path out of proa, the shutdown
// persists until the sidecars are gone or the bound passes, and a survivor is named.
// The sidecars here mostly open their shutdown endpoint a second or two after proa has
// decided to stop, so that a single attempt would miss it.
import assert from 'node:assert/strict';
import { freePort, httpSidecar, isLine, pidOf, podManifest, proaContainer, proaLog, shutdownReceived, simulate, scenario, neverReady, shutdownFlag, namedCopy } from './e2e.ts';

const test = scenario;
const late = 1.5;

test('bad spec (--wait-for typo): exit 2, and the sidecar whose endpoint comes up late is still shut down', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('bad-spec', {
    containers: [proaContainer(['--wait-for=prxy', shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, late)],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 2, proxy: 0 });
  assert.ok(shutdownReceived(sim, 'proxy'));
  const failed = sim.logs('main').filter((l) => l.msg === 'shutdown request failed; retrying');
  assert.equal(failed.length, 1, 'the first failure is logged once, not at every retry');
  assert.equal(failed[0]!.error, 'ECONNREFUSED');
  const answered = sim.logs('main').find((l) => l.msg === 'shutdown request answered')!;
  assert.ok(Number(answered.attempts) > 1);
  assert.ok(proaLog(sim, '1/1 sidecars exited'), 'waited for the sidecar (every regular container but its own) to exit');
});

test('an --ignore\'d sidecar whose endpoint comes up after the awaited one has exited: its request is retried until answered, and the Job completes', async (t, api) => {
  const [a, b] = [await freePort(), await freePort()];
  const sim = await simulate(t, api, podManifest('ignored-late', {
    containers: [
      proaContainer(['--ignore=slow', shutdownFlag(a), shutdownFlag(b)], ['true']),
      httpSidecar('fast', a, 0.1),
      httpSidecar('slow', b, late),
    ],
  }));
  const exited = await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  const told = sim.timeline.find(isLine('slow', 'Received /shutdown'));
  if (!told) sim.delete(1);
  assert.ok(told && told.t < exited.t, 'proa was still there to tell the ignored sidecar');
  assert.deepEqual((await sim.finished).exitCodes, { main: 0, fast: 0, slow: 0 });
  assert.ok(proaLog(sim, /^the awaited sidecars have exited; shutdown requests not yet answered go on while slow runs/));
});

test('no service-account token (automountServiceAccountToken: false): exit 3 naming the cause; the late endpoint is still reached', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('no-token', {
    automountServiceAccountToken: false,
    containers: [proaContainer([shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, late)],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 3, proxy: 0 });
  assert.ok(proaLog(sim, /no service-account token.*automountServiceAccountToken: false/));
  assert.ok(shutdownReceived(sim, 'proxy'));
});

test('--ready-timeout: exit 5, the late endpoint is retried until it answers, and proa waits for the exit', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('ready-timeout', {
    containers: [proaContainer(['--ready-timeout=300ms', shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, late, neverReady)],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 5, proxy: 0 });
  const logs = sim.logs('main').map((l) => l.msg);
  assert.ok(logs.indexOf('1/1 sidecars exited') > logs.indexOf('shutdown request answered'));
});

test('TERM before the command started: exit 143 after the late sidecar is shut down and has exited', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('term-early', {
    containers: [proaContainer([shutdownFlag(port)], ['touch', '/nonexistent/x']), httpSidecar('proxy', port, late, neverReady)],
  }));
  await sim.waitFor(isLine('main', '"sidecar proxy: running, not ready"', 'anywhere'));
  process.kill(pidOf(sim, 'main'), 'SIGTERM');
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 143, proxy: 0 });
  assert.ok(shutdownReceived(sim, 'proxy'));
  assert.ok(proaLog(sim, '1/1 sidecars exited'));
});

test('a sidecar without a readiness probe: warned at once by name; its late endpoint is still reached after the command fails', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('no-probe', {
    containers: [
      proaContainer([shutdownFlag(port)], ['curl', '-sSf', `http://127.0.0.1:${port}/`]),
      { ...httpSidecar('proxy', port, late), readinessProbe: undefined },
    ],
  }));
  const outcome = await sim.finished;
  assert.equal(outcome.exitCodes.proxy, 0, 'the Pod ended');
  assert.ok(proaLog(sim, /^sidecar proxy has no readinessProbe: Kubernetes calls it ready as soon as it starts.*add a readinessProbe/i));
  assert.ok(shutdownReceived(sim, 'proxy'));
});

test('an endpoint that answers 503 a few times first: retried until it agrees; each change logged once', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('busy', {
    containers: [proaContainer([shutdownFlag(port)], ['true']),
      httpSidecar('proxy', port, 0.1, { env: [{ name: 'PORT', value: String(port) }, { name: 'STARTUP_SECONDS', value: '0.1' }, { name: 'SHUTDOWN_FAILS', value: '3' }] })],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0, proxy: 0 }, restarts: { main: 0, proxy: 0 } });
  const logs = sim.logs('main');
  assert.deepEqual(logs.filter((l) => /^shutdown request/.test(l.msg)).map((l) => [l.msg, l.error ?? l.status]),
    [['shutdown request failed; retrying', 'HTTP 503'], ['shutdown request answered', 200]]);
  assert.equal(logs.find((l) => l.msg === 'shutdown request answered')!.attempts, 4);
});

test('an endpoint that never comes up: the bound passes, and the last lines name the survivor and the fix', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('survivor', {
    containers: [
      proaContainer(['--shutdown-timeout=2s', `-p=http://127.0.0.1:${port}/quitquitquit`], ['true']),
      { name: 'logger', image: 'x', command: ['sleep', '600'] },
    ],
  }));
  const exit = await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  assert.equal(exit.exitCode, 0, 'the exit code owed is the command\'s');
  const logs = sim.logs('main');
  const last = logs.at(-1)!;
  assert.equal(last.level, 'error');
  assert.match(last.msg, /^sidecar logger is still running after 2000ms \(--shutdown-timeout\): the Pod will not complete on its own\. .*--kill NAME with shareProcessNamespace.*activeDeadlineSeconds/);
  assert.deepEqual(last.actions, [`POST http://127.0.0.1:${port}/quitquitquit: ECONNREFUSED`]);
  const started = logs.find((l) => l.msg === 'command exited')!;
  assert.ok(Date.parse(String(last.time)) - Date.parse(String(started.time)) < 2000 + 1000, 'within the bound');
});

test('the command not found (127): the sidecars are still shut down and awaited', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('not-found', {
    containers: [proaContainer([shutdownFlag(port)], ['/nonexistent/command']), httpSidecar('proxy', port, 0.2)],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 127, proxy: 0 });
  assert.ok(proaLog(sim, '1/1 sidecars exited'));
});

test('a crashed sidecar (exit 4) while another starts late: the other is shut down all the same', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('crash-and-late', {
    containers: [
      proaContainer([shutdownFlag(port)], ['true']),
      { name: 'crasher', image: 'x', command: ['sh', '-c', 'sleep 0.2; exit 9'], ...neverReady },
      httpSidecar('web', port, late, neverReady),
    ],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 4, crasher: 9, web: 0 });
  assert.ok(shutdownReceived(sim, 'web'));
});

test('--no-wait: the command runs at once, and the late endpoint is retried until it answers', async (t, api) => {
  const port = await freePort();
  const sim = await simulate(t, api, podManifest('no-wait', {
    containers: [proaContainer(['--no-wait', shutdownFlag(port)], ['true']), httpSidecar('proxy', port, late)],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, proxy: 0 });
  if (api === 'fake') assert.equal(sim.timeline.filter((e) => e.type === 'api-request').length, 0, 'never contacts the API');
});

test('--kill of a process that starts late: looked for again and signalled once it appears', async (t, api) => {
  const envoy = namedCopy('/bin/bash', 'late-envoy');
  const sim = await simulate(t, api, podManifest('kill-late', {
    shareProcessNamespace: true,
    containers: [
      proaContainer(['--kill=late-envoy'], ['true']),
      { name: 'envoy', image: 'x', command: ['sh', '-c', `sleep ${late}; exec ${envoy} -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $$!; done'`] },
    ],
  }));
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { main: 0, envoy: 0 });
  const logs = sim.logs('main');
  assert.equal(logs.filter((l) => /^no visible process by that name yet/.test(l.msg)).length, 1);
  assert.deepEqual(logs.filter((l) => l.msg === 'sent signal').map((l) => l.name), ['late-envoy']);
});
