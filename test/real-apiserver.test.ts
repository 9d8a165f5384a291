// What only the real API server shows: its own 403 messages and RBAC taking effect
// while proa runs, real bound tokens that stop working, a restart of kube-apiserver
// mid-watch, an expired resourceVersion, and watches it ends at timeoutSeconds.
// Skipped unless test/run.ts started the real API server (npm run kube:build first).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { join } from 'node:path';
import { RealKubeletApi, realAccess, documentedRbac } from '../testbed/simulator/kubelet-api.ts';
import { ControlPlane, kubeBinariesBuilt, type ControlPlaneAccess } from '../testbed/api/real-apiserver.ts';
import { makePod, running } from './pods.ts';
import { tempDir } from '../testbed/paths.ts';
import { proa, type Run } from './proa.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

const access = realAccess();
const opts = access ? { timeout: 120_000 } : { skip: 'the real API server is not running (npm run kube:build, then npm test)' };

interface RealBed {
  kube: RealKubeletApi;
  name: string;
  saDir: string;
  run(args: string[], env?: Record<string, string>): Run;
  status(change: (pod: Json) => void): Promise<void>;
}

/** A Pod on the real server (main + proxy, statuses as the kubelet would write them) and proa against it. */
async function realBed(t: TestContext, on: ControlPlaneAccess, o: { rbac?: false } = {}): Promise<RealBed> {
  const kube = new RealKubeletApi(on, `real-${Math.random().toString(16).slice(2, 8)}`);
  const pod = makePod({ name: 'job-x', containers: ['main', 'proxy'] });
  const status = structuredClone(pod.status);
  await kube.createPod(pod, o);
  kube.writeStatus(status);
  const saDir = await kube.mountServiceAccount(join(tempDir(), 'sa'));
  const runs: Run[] = [];
  const tokens = new Set<string>([kube.token]);
  kube.on('token', (tk: string) => tokens.add(tk));
  t.after(async () => {
    for (const r of runs) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
      for (const tk of tokens) assert.ok(!r.dump().includes(tk), 'the token never appears in the output');
    }
  });
  return {
    kube, name: 'job-x', saDir,
    run(args, env = {}) {
      const r = proa(args, { ...kube.clusterEnv(saDir), POD_NAME: 'job-x', POD_NAMESPACE: kube.namespace, ...env });
      runs.push(r);
      return r;
    },
    async status(change) {
      change({ status });
      kube.writeStatus(status);
      await kube.settled();
    },
  };
}

const ready = (p: Json): void => running(p, 'proxy', true);

test('RBAC granted after proa started: the real 403 message, then success without a restart', opts, async (t) => {
  const b = await realBed(t, access!, { rbac: false });
  await b.status(ready);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  const err = await run.waitFor((l) => l.level === 'error');
  assert.match(err.msg, new RegExp(`^forbidden \\(cannot watch\\): service account ${b.kube.namespace}/proa needs get, list and watch on pods in namespace ${b.kube.namespace}`));
  // A watch narrowed to one name by fieldSelector is authorized (and refused) as that name.
  assert.match(String(err.apiMessage), /^pods "job-x" is forbidden: User "system:serviceaccount:[^"]+:proa" cannot watch resource "pods" in API group "" in the namespace "[^"]+"$/);
  await b.kube.applyRbac();
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(run.has('Kubernetes API watch is healthy again'));
  assert.equal(run.lines.filter((l) => l.level === 'error').length, 1, 'said once');
});

test('a Role that lacks watch: the message names the verb', opts, async (t) => {
  const b = await realBed(t, access!, { rbac: false });
  const docs = documentedRbac().map((d) => (d.kind === 'Role' ? { ...d, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } : d));
  await b.kube.applyRbac(docs);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  const err = await run.waitFor((l) => l.level === 'error');
  assert.match(err.msg, /^forbidden \(cannot watch\)/);
  run.signal('SIGTERM');
  assert.equal((await run.exited).code, 143);
});

test('a token that stops working while proa watches (its ServiceAccount recreated): 401, then the rotated token works', opts, async (t) => {
  const b = await realBed(t, access!);
  const run = b.run(['--watch-timeout', '2s', '--shutdown-timeout', '0', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  await b.kube.recreateServiceAccount(); // the RoleBinding names the account by name: it still applies
  const err = await run.waitFor((l) => l.level === 'error' && /401/.test(l.msg));
  assert.match(err.msg, /rejected the service-account token \(401\), also when read afresh/);
  await b.kube.rotateToken();
  await run.waitFor('Kubernetes API watch is healthy again');
  await b.status(ready);
  assert.equal((await run.exited).code, 0, run.dump());
});

test('a bound token stops working when its Pod is deleted; proa sees the deletion first (exit 6)', opts, async (t) => {
  const b = await realBed(t, access!);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  const get = (token: string): Promise<number> => new Promise((resolve, reject) => {
    const req = request({ host: access!.host, port: access!.port, path: `/api/v1/namespaces/${b.kube.namespace}/pods/${b.name}`, ca: access!.ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(await get(b.kube.token), 200);
  await b.kube.call('DELETE', `/api/v1/namespaces/${b.kube.namespace}/pods/${b.name}?gracePeriodSeconds=0`);
  assert.equal((await run.exited).code, 6, run.dump());
  // The authenticator looks the Pod up through the API server's informer, a moment behind.
  const seen: number[] = [];
  for (let i = 0; i < 100 && seen.at(-1) !== 401; i++) {
    seen.push(await get(b.kube.token));
    if (seen.at(-1) !== 401) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(seen.at(-1), 401, `a token bound to a deleted Pod is refused (answers: ${[...new Set(seen)].join(', ')})`);
});

test('the server ends each watch at timeoutSeconds; proa resumes quietly', opts, async (t) => {
  const b = await realBed(t, access!);
  const run = b.run(['--watch-timeout', '1s', '--shutdown-timeout', '0', 'true']);
  await run.waitFor('watch ended by the server; resuming');
  const again = run.lines.filter((l) => l.msg === 'watch open').length;
  await run.waitFor((l) => l.msg === 'watch open' && run.lines.filter((x) => x.msg === 'watch open').length > again);
  await b.status(ready);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.ok(!run.lines.some((l) => l.level === 'warn' || l.level === 'error'), run.dump());
});

// These need a control plane of their own: one is restarted, the other runs without a watch cache.
const own = access && kubeBinariesBuilt() ? { timeout: 180_000 } : opts;

test('kube-apiserver restarted mid-watch: no state missed', own, async (t) => {
  const plane = await ControlPlane.start();
  t.after(() => plane.stop());
  const b = await realBed(t, plane.access);
  const run = b.run(['--shutdown-timeout', '0', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  const restarted = plane.restartApiserver();
  await b.status((p) => running(p, 'proxy', false)); // written after the restart, whenever it is up
  await restarted;
  await run.waitFor('sidecar proxy: running, not ready');
  await b.status(ready);
  assert.equal((await run.exited).code, 0, run.dump());
});

test('an expired resourceVersion on the real server (no watch cache, etcd compacted): 410, then a fresh start', own, async (t) => {
  // Pod watches are served from the watch cache, which keeps a window of events whatever
  // etcd compacts. Without it, a resume goes to etcd, and the API server's own compactor
  // (every 1 s here) makes an old version expire.
  const plane = await ControlPlane.start({ watchCache: false, compactionInterval: '1s' });
  t.after(() => plane.stop());
  const b = await realBed(t, plane.access);
  const run = b.run(['--watch-timeout', '4s', '--shutdown-timeout', '0', 'true']);
  await run.waitFor('sidecar proxy: waiting (ContainerCreating)');
  // Other writes move etcd's revision on while the Pod, and so proa's version, stays put.
  for (let i = 0; i < 20; i++) await b.kube.call('POST', `/api/v1/namespaces/${b.kube.namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `filler-${i}` } });
  const expired = await run.waitFor(/resourceVersion expired/);
  assert.equal(expired.level, 'info');
  await b.status(ready);
  assert.equal((await run.exited).code, 0, run.dump());
});
