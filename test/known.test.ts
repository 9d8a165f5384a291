// Well-known sidecars: recognised from the spec with their shutdown endpoint enabled,
// disabled or unknown (src/pod/known.ts); --shutdown-auto through the binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasAction, recognise } from '../src/pod/known.ts';
import type { Pod } from '../src/shared/pod.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { bed } from './bed.ts';
import { makePod, running, terminated } from './pods.ts';

function pod(containers: Json[], extra: { annotations?: Record<string, string>; init?: Json[] } = {}): Pod {
  return {
    metadata: { name: 'p', namespace: 'n', ...(extra.annotations ? { annotations: extra.annotations } : {}) } as Pod['metadata'],
    spec: { containers: [{ name: 'main' }, ...containers] as never, ...(extra.init ? { initContainers: extra.init as never } : {}) },
  };
}

test('Istio, Linkerd, Cloud SQL Auth Proxy v2, Vault Agent: the action, and enabled, disabled or unknown', () => {
  const found = (p: Pod): [string, string | undefined, string][] => recognise(p, 'main').map((k) => [k.container, k.url, k.endpoint]);
  assert.deepEqual(found(pod([{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0' }])), [['istio-proxy', 'http://127.0.0.1:15020/quitquitquit', 'enabled']]);
  const linkerd = (value?: string): Json => ({ name: 'linkerd-proxy', image: 'cr.l5d.io/linkerd/proxy:edge-24.11.8', env: value === undefined ? [] : [{ name: 'LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED', value }] });
  assert.deepEqual(found(pod([linkerd('true')])), [['linkerd-proxy', 'http://127.0.0.1:4191/shutdown', 'enabled']]);
  assert.deepEqual(found(pod([linkerd('false')])), [['linkerd-proxy', 'http://127.0.0.1:4191/shutdown', 'disabled']]);
  assert.deepEqual(found(pod([linkerd()])), [['linkerd-proxy', 'http://127.0.0.1:4191/shutdown', 'unknown']]);
  const sql = (args: string[]): Json => ({ name: 'db-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args });
  assert.deepEqual(found(pod([sql(['--quitquitquit', '--admin-port', '9192', 'p:r:i'])])), [['db-proxy', 'http://127.0.0.1:9192/quitquitquit', 'enabled']]);
  assert.deepEqual(found(pod([sql(['--quitquitquit', 'p:r:i'])])), [['db-proxy', 'http://127.0.0.1:9091/quitquitquit', 'enabled']]);
  assert.deepEqual(found(pod([sql(['p:r:i'])])), [['db-proxy', 'http://127.0.0.1:9091/quitquitquit', 'disabled']]);
  assert.deepEqual(found(pod([{ name: 'cloudsql', image: 'gcr.io/cloudsql-docker/gce-proxy:1.37.0' }])), [], 'v1 has no endpoint: not offered');
  const vault = { name: 'vault-agent', image: 'hashicorp/vault:1.21.1' };
  assert.deepEqual(found(pod([vault], { annotations: { 'vault.hashicorp.com/agent-enable-quit': 'true', 'vault.hashicorp.com/agent-cache-listener-port': '8300' } })),
    [['vault-agent', 'http://127.0.0.1:8300/agent/v1/quit', 'enabled']]);
  assert.deepEqual(found(pod([vault], { annotations: { 'vault.hashicorp.com/agent-configmap': 'my-agent' } })), [['vault-agent', 'http://127.0.0.1:8200/agent/v1/quit', 'unknown']]);
  assert.deepEqual(found(pod([vault])), [['vault-agent', 'http://127.0.0.1:8200/agent/v1/quit', 'disabled']]);
  const native = recognise(pod([], { init: [{ name: 'istio-proxy', image: 'istio/proxyv2:1.24', restartPolicy: 'Always' }] }), 'main');
  assert.equal(native[0]!.native, true);
});

test('a configured action targets a recognised sidecar when it is a loopback host on its port', () => {
  const [istio] = recognise(pod([{ name: 'istio-proxy' }]), 'main');
  for (const u of ['http://localhost:15020/quitquitquit', 'http://127.0.0.1:15020/x', 'http://[::1]:15020/', 'http://sidecar.localhost:15020/']) assert.ok(hasAction(istio!, [new URL(u)]), u);
  for (const u of ['http://10.0.0.1:15020/quitquitquit', 'http://localhost:15000/quitquitquit']) assert.ok(!hasAction(istio!, [new URL(u)]), u);
});

function sqlPod(name: string, port: number, flags: string[]): Json {
  const p = makePod({ name, containers: ['main', 'db-proxy'] });
  const c = p.spec.containers.find((x: Json) => x.name === 'db-proxy');
  c.image = 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1';
  c.args = [...flags, '--admin-port', String(port), 'proj:region:inst'];
  running(p, 'db-proxy', true);
  return p;
}

test('--shutdown-auto: the recognised sidecar is shut down through its endpoint; without it, a warning names the flag', async (t) => {
  const b = await bed(t, sqlPod('auto', 0, []));
  const port = b.rec.port;
  b.update((p) => { p.spec.containers.find((x: Json) => x.name === 'db-proxy').args = ['--quitquitquit', '--admin-port', String(port), 'proj:region:inst']; });
  b.rec.once('request', () => b.update((p) => terminated(p, 'db-proxy', 0)));
  const run = b.run(['--shutdown-auto', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.deepEqual(b.rec.received.map((r) => `${r.method} ${r.path}`), ['POST /quitquitquit']);
  assert.ok(run.has(`--shutdown-auto: POST http://127.0.0.1:${port}/quitquitquit will shut down sidecar db-proxy (Cloud SQL Auth Proxy)`), run.dump());
  assert.ok(run.has('1/1 sidecars exited'));

  const b2 = await bed(t, sqlPod('manual', port, ['--quitquitquit']));
  const run2 = b2.run(['--shutdown-timeout', '0', 'true']);
  assert.equal((await run2.exited).code, 0);
  const warn = run2.lines.find((l) => l.level === 'warn' && /has no shutdown action/.test(l.msg))!;
  assert.match(warn.msg, /^sidecar db-proxy \(Cloud SQL Auth Proxy\) has no shutdown action: proa could stop it with POST .*pass --shutdown-auto/);

  const b3 = await bed(t, sqlPod('disabled', port, []));
  const run3 = b3.run(['--shutdown-auto', '--shutdown-timeout', '0', 'true']);
  assert.equal((await run3.exited).code, 0);
  assert.ok(run3.lines.some((l) => l.level === 'warn' && /shutdown endpoint is disabled \(not started with --quitquitquit/.test(l.msg)), run3.dump());
});
