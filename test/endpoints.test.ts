// Without API access (issue 18), through the built binary: the sidecars known by their
// own endpoints. No token at all; a token refused (403) and an API server that never
// answers, where proa falls back to the endpoints; full access, where the endpoints are
// an extra gate; and a mesh proxy that carries proa's own API traffic and quits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { bed } from './bed.ts';
import { makePod, running } from './pods.ts';
import { proa, type Run } from './proa.ts';
import { TcpProxy } from './tcp-proxy.ts';

/**
 * A sidecar with its own endpoints: GET /ready answers 503 until `ready()`; POST /quit
 * answers (503 the first `refuse` times) and closes the server, as a proxy told to quit.
 */
class Sidecar {
  readonly server: Server;
  port = 0;
  isReady = false;
  refuse = 0;
  readonly requests: string[] = [];
  onQuit: () => void = () => {};

  constructor() {
    this.server = createServer((req, res) => {
      req.on('error', () => {});
      res.on('error', () => {});
      this.requests.push(`${req.method} ${req.url}`);
      if (req.url === '/ready') return void res.writeHead(this.isReady ? 200 : 503).end();
      if (req.url === '/quit') {
        if (this.refuse > 0) {
          this.refuse--;
          return void res.writeHead(503).end('draining');
        }
        res.writeHead(200, { Connection: 'close' }).end('bye', () => {
          this.server.close();
          this.server.closeAllConnections();
          this.onQuit();
        });
        return;
      }
      res.writeHead(404).end();
    });
  }

  static async start(t: TestContext): Promise<Sidecar> {
    const s = new Sidecar();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as { port: number }).port;
    t.after(() => { s.server.close(); s.server.closeAllConnections(); });
    return s;
  }

  get ready(): string { return `http://127.0.0.1:${this.port}/ready`; }
  get quit(): string { return `http://127.0.0.1:${this.port}/quit`; }
}

const order = (run: Run, msgs: (string | RegExp)[]): void => {
  const at = msgs.map((m) => run.lines.findIndex((l) => (typeof m === 'string' ? l.msg === m : m.test(l.msg))));
  assert.ok(at.every((i) => i >= 0), `each of ${msgs.join(' | ')} logged:\n${run.dump()}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, `in order:\n${run.dump()}`);
};

test('no token, no API server: the endpoints alone; the command waits for the sidecar, the exit wait ends when its port closes', async (t) => {
  const side = await Sidecar.start(t);
  const run = proa(['--wait-http', side.ready, '-p', side.quit, '--', 'sh', '-c', 'exit 3'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  await run.waitFor(`endpoint ${side.ready}: not ready (HTTP 503)`);
  side.isReady = true;
  assert.equal((await run.exited).code, 3, run.dump());
  order(run, [/^no Kubernetes API access \(not running in Kubernetes/, 'mode: the endpoints alone', `endpoint ${side.ready}: ready`,
    'command started', 'shutdown request answered', 'every sidecar endpoint refuses connections: the sidecars have exited']);
  assert.ok(!run.lines.some((l) => l.level === 'error'), run.dump());
  const polls = side.requests.filter((r) => r === 'GET /ready').length;
  assert.ok(polls >= 2, `polled (${polls})`);
});

test('no token, never ready: --ready-timeout exits 5 naming the endpoint, and the shutdown is sent', async (t) => {
  const side = await Sidecar.start(t);
  const run = proa(['--wait-http', side.ready, '-p', side.quit, '--ready-timeout', '1s', '--', 'true'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await run.exited).code, 5, run.dump());
  assert.ok(run.lines.some((l) => l.level === 'error' && l.msg === `endpoint ${side.ready} is not ready: HTTP 503`), run.dump());
  assert.ok(side.requests.includes('POST /quit'));
  assert.ok(!run.has('command started'));
});

test('no token: a shutdown refused (503) then answered; --wait-tcp; --no-exit-wait does not wait for the port', async (t) => {
  const side = await Sidecar.start(t);
  side.isReady = true;
  side.refuse = 2;
  const run = proa(['--wait-tcp', `127.0.0.1:${side.port}`, '-p', side.quit, '--', 'true'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.equal(side.requests.filter((r) => r === 'POST /quit').length, 3);
  assert.ok(run.has('every sidecar endpoint refuses connections: the sidecars have exited'), run.dump());
  // A native sidecar keeps its port open until proa's container ends: --no-exit-wait.
  const held = createNetServer((s) => s.on('error', () => {}).end());
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.after(() => held.close());
  const port = (held.address() as { port: number }).port;
  const native = proa(['--wait-tcp', `localhost:${port}`, '--no-exit-wait', '--', 'true'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await native.exited).code, 0, native.dump());
  assert.ok(native.has('not waiting for the endpoints to close (--no-exit-wait)'), native.dump());
});

test('with no endpoint given and no API access: exit 3 naming --wait-http and --wait-tcp', async () => {
  const run = proa(['--', 'true'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await run.exited).code, 3);
  assert.ok(run.lines.some((l) => l.level === 'error' && /--wait-http URL, --wait-tcp HOST:PORT/.test(l.msg)), run.dump());
});

test('a token, but 403 on the Pod: one warning with the Role to apply, then the endpoints alone', async (t) => {
  const side = await Sidecar.start(t);
  side.isReady = true;
  const b = await bed(t, makePod({ name: 'no-rbac', containers: ['main', 'proxy'] }));
  b.api.forbid('get', 'list', 'watch');
  const run = b.run(['--wait-http', side.ready, '-p', side.quit, '--', 'sh', '-c', 'exit 4']);
  assert.equal((await run.exited).code, 4, run.dump());
  const warned = run.lines.filter((l) => /judged by their endpoints alone for the rest of this run/.test(l.msg));
  assert.equal(warned.length, 1, run.dump());
  assert.match(warned[0]!.msg, /refuses service account default\/proa the Pod \(403\); to use the watch, apply:\napiVersion: rbac/);
  order(run, ['mode: the watch and the endpoints (the command starts when both agree)', 'mode: the endpoints alone', 'command started',
    'every sidecar endpoint refuses connections: the sidecars have exited']);
});

test('an API server that never answers: after 10 s, the endpoints alone', async (t) => {
  const side = await Sidecar.start(t);
  side.isReady = true;
  const b = await bed(t, makePod({ name: 'egress', containers: ['main', 'proxy'] }));
  // A port where nothing listens: every connection refused.
  const dead = createNetServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const port = (dead.address() as { port: number }).port;
  await new Promise((resolve) => dead.close(resolve));
  const run = b.run(['--wait-http', side.ready, '-p', side.quit, '--', 'true'], { KUBERNETES_SERVICE_PORT: String(port) });
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.has(/has not answered for 10 s.*judged by their endpoints alone/), run.dump());
});

test('full access: the watch and the endpoints must agree, whichever is ready last', async (t) => {
  for (const last of ['endpoint', 'watch'] as const) {
    const side = await Sidecar.start(t);
    const pod = makePod({ name: `both-${last}`, containers: ['main', 'proxy'] });
    const b = await bed(t, pod);
    const run = b.run(['--wait-http', side.ready, '-p', side.quit, '--shutdown-timeout', '0', '--', 'true']);
    await run.waitFor('mode: the watch and the endpoints (the command starts when both agree)');
    if (last === 'endpoint') {
      b.update((p) => running(p, 'proxy', true));
      await run.waitFor('sidecar proxy: ready');
      await run.waitFor(`endpoint ${side.ready}: not ready (HTTP 503)`);
      assert.ok(!run.has('command started'), 'the watch alone is not enough');
      side.isReady = true;
    } else {
      side.isReady = true;
      await run.waitFor(`endpoint ${side.ready}: ready`);
      assert.ok(!run.has('command started'), 'the endpoint alone is not enough');
      b.update((p) => running(p, 'proxy', true));
    }
    assert.equal((await run.exited).code, 0, run.dump());
    assert.ok(!run.has('mode: the endpoints alone'));
  }
});

test('a mesh proxy that carries proa\'s API traffic quits: judged by its endpoint, the Job ends with the program\'s code and no error', async (t) => {
  const pod = makePod({ name: 'mesh', containers: ['main', 'istio-proxy'], grace: 30 });
  running(pod, 'istio-proxy', true);
  const b = await bed(t, pod);
  // The proxy forwards the API traffic of the Pod, and stops when it is told to quit.
  const proxy = await TcpProxy.start(b.api.host, b.api.port);
  t.after(() => proxy.stop());
  const side = await Sidecar.start(t);
  side.isReady = true;
  side.onQuit = () => void proxy.stop();
  const run = b.run(['-p', side.quit, '--', 'sh', '-c', 'exit 7'], { KUBERNETES_SERVICE_PORT: String(proxy.port) });
  const started = performance.now();
  assert.equal((await run.exited).code, 7, run.dump());
  const tookS = (performance.now() - started) / 1000;
  t.diagnostic(`proa exited ${tookS.toFixed(1)} s after it started (the bound was 30 s)`);
  assert.ok(run.has('every sidecar endpoint refuses connections: the sidecars have exited'), run.dump());
  assert.ok(!run.lines.some((l) => l.level === 'error'), run.dump());
  // The kubelet's status of the proxy never reached proa: the endpoint told.
  assert.ok(!run.has('1/1 sidecars exited'));
});

test('proa check: the mode, each endpoint probed; no token or a 403 is no failure when endpoints are given', async (t) => {
  const side = await Sidecar.start(t);
  const bare = proa(['check', '--wait-http', side.ready], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await bare.exited).code, 0, bare.stdout);
  assert.match(bare.stdout, new RegExp(`warn +${side.ready.replace(/[.?/]/g, '\\$&')}: not ready now \\(HTTP 503\\); proa would wait for it`));
  assert.match(bare.stdout, /warn +no Kubernetes API access \(KUBERNETES_SERVICE_HOST is not set\): proa would judge the sidecars by their endpoints alone/);
  side.isReady = true;
  const pod = makePod({ name: 'check-403', containers: ['main', 'proxy'] });
  const b = await bed(t, pod);
  b.api.forbid('get', 'list', 'watch');
  const forbidden = proa(['check', '--wait-http', side.ready], b.env);
  assert.equal((await forbidden.exited).code, 0, forbidden.stdout);
  assert.match(forbidden.stdout, /ok +http:\/\/127\.0\.0\.1:\d+\/ready: ready/);
  assert.match(forbidden.stdout, /warn +service account default\/proa may not get, list, watch pods/);
  assert.match(forbidden.stdout, /warn +proa would fall back to the endpoints alone/);
  const strict = proa(['check'], b.env);
  assert.equal((await strict.exited).code, 1, 'without endpoints, RBAC still blocks');
});

test('a readiness endpoint whose body never ends: each probe lets go once it has the status', async (t) => {
  let open = 0;
  let most = 0;
  const streaming = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    open++;
    most = Math.max(most, open);
    res.on('close', () => open--);
    res.writeHead(503);
    const drip = setInterval(() => res.write('x'.repeat(1024)), 20);
    res.on('close', () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => streaming.listen(0, '127.0.0.1', resolve));
  t.after(() => { streaming.close(); streaming.closeAllConnections(); });
  const url = `http://127.0.0.1:${(streaming.address() as { port: number }).port}/ready`;
  const run = proa(['--wait-http', url, '--ready-timeout', '2s', '--no-exit-wait', '--', 'true'], { PROA_SERVICEACCOUNT_DIR: '/nonexistent' });
  assert.equal((await run.exited).code, 5, run.dump());
  assert.ok(most <= 2, `at most ${most} connections open at once`);
});
