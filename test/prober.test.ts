// proa's own readiness probes (src/probes/prober.ts) against real local servers, with the Pod's
// status handed in as the watch would: what counts as ready (successThreshold in a row,
// the kubelet's rule for redirects and status codes), what holds a probe back (no Pod IP,
// a startupProbe not passed, another host), and what each fault leaves in the last answer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/shared/log.ts';
import { Prober, type ProbedPod } from '../src/probes/prober.ts';
import type { Plan } from '../src/pod/plan.ts';
import type { ContainerStatus, Pod } from '../src/shared/pod.ts';
import { decodePod } from '../src/kube/decode.ts';
import { clusterCerts } from '../testbed/api/certs.ts';
import { grpcHealthServer } from '../testbed/images/standins/grpc-health.mjs';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A server on 127.0.0.1 that calls `handler` with each request's number; `requests` resolve in order. */
async function serve(t: TestContext, handler: Handler, https = false): Promise<{ port: number; count: () => number; nth: (n: number) => Promise<void> }> {
  let n = 0;
  const waiters = new Map<number, () => void>();
  const on = (req: IncomingMessage, res: ServerResponse): void => {
    res.on('error', () => {});
    n++;
    waiters.get(n)?.();
    handler(req, res, n);
  };
  const server: Server = https ? createHttpsServer({ key: clusterCerts().key, cert: clusterCerts().cert }, on) : createServer(on);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    count: () => n,
    nth: (k) => (n >= k ? Promise.resolve() : new Promise((resolve) => waiters.set(k, resolve))),
  };
}

/** The watch's side, by hand: `update` replaces the Pod and tells the prober, as a read of the watch does. */
class Watched implements ProbedPod {
  pod: Pod | undefined;
  plan: Plan | undefined;
  readonly #listeners = new Set<() => void>();
  readonly lines: { level: string; msg: string }[] = [];
  #woken: (() => void)[] = [];

  constructor(raw: unknown) {
    this.pod = decodePod(raw).pod;
    this.plan = { own: 'main', ownRule: 'test', awaited: [{ name: 'proxy', native: false }], restartPolicy: 'Never', notes: [], restartTraps: [], unprobed: [], nativeByDefault: [], peers: [] };
  }

  observe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  wake(): void {
    for (const w of this.#woken.splice(0)) w();
    for (const l of [...this.#listeners]) l();
  }

  update(raw: unknown): void {
    this.pod = decodePod(raw).pod;
    this.wake();
  }

  /** Resolves when the prober next calls wake (its probe passed). */
  woken(): Promise<void> {
    return new Promise((resolve) => this.#woken.push(resolve));
  }

  line(re: RegExp): Promise<{ level: string; msg: string }> {
    return new Promise((resolve) => {
      const look = (): void => {
        const found = this.lines.find((l) => re.test(l.msg));
        if (found) resolve(found);
        else setImmediate(look);
      };
      look();
    });
  }
}

const status = (extra: Record<string, unknown> = {}, id = 'containerd://a'): Record<string, unknown> => ({
  name: 'proxy', ready: false, started: true, containerID: id, state: { running: { startedAt: new Date(Date.now() - 5000).toISOString() } }, ...extra,
});

function podOf(probe: Record<string, unknown>, opts: { podIP?: string | undefined; st?: Record<string, unknown>; ports?: unknown[]; startupProbe?: unknown } = {}): unknown {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u' },
    spec: { containers: [{ name: 'main' }, { name: 'proxy', readinessProbe: probe, ports: opts.ports, startupProbe: opts.startupProbe }] },
    status: { ...('podIP' in opts ? (opts.podIP ? { podIP: opts.podIP } : {}) : { podIP: '127.0.0.1' }), containerStatuses: [opts.st ?? status()] },
  };
}

function start(t: TestContext, raw: unknown): { w: Watched; prober: Prober; passed: () => boolean } {
  const w = new Watched(raw);
  const log = createLogger('json', 'debug', (line) => w.lines.push(JSON.parse(line) as { level: string; msg: string }));
  const prober = new Prober(log, w);
  t.after(() => prober.stop());
  prober.start();
  const passed = (): boolean => prober.passed('proxy', w.pod?.status?.containerStatuses?.[0] as ContainerStatus | undefined);
  return { w, prober, passed };
}

const until = async (w: Watched, ok: () => boolean): Promise<void> => {
  while (!ok()) await w.woken();
};

test('200, 503, 200, 200 with successThreshold 2: ready only after two passes in a row (the fourth answer)', async (t) => {
  const codes = [200, 503, 200, 200];
  const s = await serve(t, (_req, res, n) => res.writeHead(codes[n - 1] ?? 200).end());
  const { w, passed } = start(t, podOf({ httpGet: { port: s.port, path: '/ready' }, successThreshold: 2 }));
  await until(w, passed);
  assert.equal(s.count(), 4);
  assert.ok(w.lines.some((l) => l.msg.startsWith(`sidecar proxy: ready by proa's probe (GET http://127.0.0.1:${s.port}/ready: HTTP 200); the kubelet has not reported it yet`)));
});

test('a hanging endpoint: each attempt ends at the probe\'s timeout, and the last answer says so', async (t) => {
  const s = await serve(t, () => {});
  const { prober, passed } = start(t, podOf({ httpGet: { port: s.port }, timeoutSeconds: 1 }));
  await s.nth(2);
  assert.equal(prober.lastAnswer('proxy'), `GET http://127.0.0.1:${s.port}/: no answer within 1s`);
  assert.equal(passed(), false);
});

test('a connection reset, a 500: failures, named', async (t) => {
  const s = await serve(t, (req, res, n) => (n === 1 ? req.socket.destroy() : res.writeHead(500).end()));
  const { prober } = start(t, podOf({ httpGet: { port: s.port } }));
  await s.nth(2);
  assert.equal(prober.lastAnswer('proxy'), `GET http://127.0.0.1:${s.port}/: ECONNRESET`);
  await s.nth(3);
  assert.equal(prober.lastAnswer('proxy'), `GET http://127.0.0.1:${s.port}/: HTTP 500`);
});

test('redirects as the kubelet takes them: the same host followed to its answer, another host a success, an 11th hop a failure', async (t) => {
  // Same host, three hops, then 503: a failure (the final answer counts, not the 302).
  const chain = await serve(t, (req, res) => {
    const hop = Number(req.url!.slice(1)) || 0;
    if (hop < 3) res.writeHead(302, { Location: `/${hop + 1}` }).end();
    else res.writeHead(503).end();
  });
  const a = start(t, podOf({ httpGet: { port: chain.port, path: '/0' } }));
  await chain.nth(8);
  assert.equal(a.prober.lastAnswer('proxy'), `GET http://127.0.0.1:${chain.port}/0: HTTP 503`);
  assert.equal(a.passed(), false);

  const loop = await serve(t, (_req, res) => res.writeHead(307, { Location: '/again' }).end());
  const b = start(t, podOf({ httpGet: { port: loop.port } }));
  await loop.nth(12);
  assert.equal(b.prober.lastAnswer('proxy'), `GET http://127.0.0.1:${loop.port}/: stopped after 10 redirects`);
  assert.equal(b.passed(), false);

  const away = await serve(t, (_req, res) => res.writeHead(301, { Location: 'http://192.0.2.1/elsewhere' }).end());
  const c = start(t, podOf({ httpGet: { port: away.port } }));
  await until(c.w, c.passed);
  assert.equal(away.count(), 1, 'the other host is never asked');
});

test('an endless body: the status is enough, the body is not read', async (t) => {
  const s = await serve(t, (_req, res) => {
    res.writeHead(200);
    const more = (): void => {
      if (res.write(Buffer.alloc(64 * 1024))) setImmediate(more);
      else res.once('drain', more);
    };
    more();
  });
  const { w, passed } = start(t, podOf({ httpGet: { port: s.port } }));
  await until(w, passed);
});

test('httpHeaders, a named port and HTTPS with a self-signed certificate: sent as the kubelet sends them', async (t) => {
  let seen: IncomingMessage | undefined;
  const s = await serve(t, (req, res) => {
    seen = req;
    res.writeHead(req.headers['x-probe'] === 'yes' && req.headers.host === 'proxy.local' ? 200 : 403).end();
  }, true);
  const { w, passed } = start(t, podOf({ httpGet: { port: 'admin', scheme: 'HTTPS', path: '/healthz?full=1', httpHeaders: [{ name: 'X-Probe', value: 'yes' }, { name: 'Host', value: 'proxy.local' }] } },
    { ports: [{ name: 'other', containerPort: 1 }, { name: 'admin', containerPort: s.port }] }));
  await until(w, passed);
  assert.equal(seen!.url, '/healthz?full=1');
  assert.match(String(seen!.headers['user-agent']), /^kube-probe\/1\.37 \(proa\//);
  assert.equal(seen!.headers.accept, '*/*');
});

test('tcpSocket: a connection accepted; refused on the Pod\'s IP but accepted on 127.0.0.1: said once, never ready', async (t) => {
  const s = await serve(t, (_req, res) => res.end());
  const ok = start(t, podOf({ tcpSocket: { port: s.port } }));
  await until(ok.w, ok.passed);
  // 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 alone: the Pod's IP refuses.
  const bound = start(t, podOf({ tcpSocket: { port: s.port } }, { podIP: '127.0.0.2' }));
  const warned = await bound.w.line(/accepts connections on 127\.0\.0\.1:\d+ but refuses them on the Pod's IP 127\.0\.0\.2/);
  assert.equal(warned.level, 'warn');
  assert.equal(bound.prober.lastAnswer('proxy'), `TCP 127.0.0.2:${s.port}: ECONNREFUSED`);
  assert.equal(bound.passed(), false);
});

test('a sidecar that binds its port between the Pod IP\'s refusal and the loopback check is starting, not bound to 127.0.0.1: no warning', async (t) => {
  // The loopback check's own connection is what makes the sidecar listen on the Pod's IP
  // too (as a 0.0.0.0 bind a moment later would): by the next check the probe passes.
  const { createServer: createTcpServer } = await import('node:net');
  const onPodIp = createTcpServer((c) => c.end());
  const loopback = createTcpServer((c) => {
    c.end();
    if (!onPodIp.listening) onPodIp.listen((loopback.address() as AddressInfo).port, '127.0.0.2');
  });
  await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    loopback.close();
    onPodIp.close();
  });
  const port = (loopback.address() as AddressInfo).port;
  const late = start(t, podOf({ tcpSocket: { port } }, { podIP: '127.0.0.2' }));
  await until(late.w, late.passed);
  assert.deepEqual(late.w.lines.filter((l) => /refuses them on the Pod's IP/.test(l.msg)), []);
});

test('grpc: SERVING is ready, NOT_SERVING is not; the service is asked by name', async (t) => {
  const health = grpcHealthServer();
  const server = health.server as Http2Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  health.set('db', 'NOT_SERVING');
  const { w, prober, passed } = start(t, podOf({ grpc: { port, service: 'db' } }));
  await health.asked(2);
  assert.equal(prober.lastAnswer('proxy'), `gRPC 127.0.0.1:${port} (service "db"): NOT_SERVING`);
  health.set('db', 'SERVING');
  await until(w, passed);
  assert.equal(prober.lastAnswer('proxy'), `gRPC 127.0.0.1:${port} (service "db"): SERVING`);
  health.set('', 'SERVING');
  const unknown = start(t, podOf({ grpc: { port, service: 'nope' } }));
  await health.asked(health.count() + 1);
  await health.asked(health.count() + 1);
  assert.match(unknown.prober.lastAnswer('proxy') ?? '', /: SERVICE_UNKNOWN$|grpc-status 5/);
});

test('held back: no Pod IP yet, a startupProbe not passed, the initial delay; then probed', async (t) => {
  const s = await serve(t, (_req, res) => res.end());
  const probe = { httpGet: { port: s.port } };
  const noIp = start(t, podOf(probe, { podIP: undefined }));
  await noIp.w.line(/^sidecar proxy: proa probes once the Pod has an IP/);
  assert.equal(s.count(), 0);
  noIp.w.update(podOf(probe));
  await until(noIp.w, noIp.passed);

  const before = s.count();
  const gated = start(t, podOf(probe, { st: status({ started: false }), startupProbe: { exec: { command: ['true'] } } }));
  await gated.w.line(/^sidecar proxy: proa probes once the kubelet reports it started/);
  assert.equal(s.count(), before);
  gated.w.update(podOf(probe, { st: status({ started: true }), startupProbe: { exec: { command: ['true'] } } }));
  await until(gated.w, gated.passed);
});

test('a success belongs to one run of the container: a restart (a new containerID) starts the count again', async (t) => {
  const s = await serve(t, (_req, res) => res.end());
  const { w, prober, passed } = start(t, podOf({ httpGet: { port: s.port } }));
  await until(w, passed);
  const again = status({}, 'containerd://b');
  assert.equal(prober.passed('proxy', again as unknown as ContainerStatus), false);
  w.update(podOf({ httpGet: { port: s.port } }, { st: again }));
  await until(w, passed);
});

test('what stays the kubelet\'s: exec, alpha fields, another host, a port name the container lacks', async (t) => {
  for (const [probe, why] of [
    [{ exec: { command: ['true'] } }, 'an exec probe runs inside the sidecar'],
    [{ httpGet: { port: 1, protocol: 'HTTP2' } }, 'httpGet.protocol HTTP2 (alpha)'],
    [{ grpc: { port: 1, mode: 'TLS' } }, 'grpc.mode TLS (alpha)'],
    [{ httpGet: { port: 1, host: '10.9.9.9' } }, "its host 10.9.9.9 is not the Pod's IP 127.0.0.1: the kubelet's probe alone (it probes from the node)"],
    [{ tcpSocket: { port: 'nope' } }, 'port "nope" is not one of the container\'s named ports'],
  ] as const) {
    const { w } = start(t, podOf(probe));
    const line = await w.line(/^sidecar proxy: readiness by the kubelet only/);
    assert.ok(line.msg.includes(why), `${line.msg} names ${why}`);
  }
});
