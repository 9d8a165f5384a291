// Parity: the same requests to the fake API server and to the real one, compared on
// what proa (and any client) depends on: status codes, Content-Type, chunking, watch
// event types, and Status bodies (reason, code, details). Where they differed, the fake
// was fixed; this test holds them together from now on. Skipped without the real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { FakeApiServer, type Json } from '../testbed/api/fake-apiserver.ts';
import { RealKubeletApi, realAccess } from '../testbed/simulator/kubelet-api.ts';
import { makePod } from './pods.ts';
import { tempDir } from '../testbed/paths.ts';

const access = realAccess();
const opts = access ? { timeout: 120_000 } : { skip: 'the real API server is not running (npm run kube:build, then npm test)' };

interface Answer {
  status: number;
  contentType: string | undefined;
  chunked: boolean;
  body: string;
}

interface Target {
  name: string;
  host: string;
  port: number;
  ca: string;
  token: string;
  /** A token that authenticates but has no RBAC. */
  stranger: string;
  namespace: string;
  /** The Pod's resourceVersion when it was created. */
  created: string;
  /** Changes the Pod's status, to produce a watch event. */
  touch(message: string): Promise<string>;
}

function send(t: Target, path: string, token = t.token, accept = 'application/json'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: t.host, port: t.port, path, ca: t.ca, headers: { Authorization: `Bearer ${token}`, Accept: accept } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, contentType: res.headers['content-type']?.split(';')[0], chunked: res.headers['transfer-encoding'] === 'chunked', body,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A Status body reduced to what clients read. */
function status(body: string): Json {
  const s = json(body);
  return { kind: s.kind, status: s.status, reason: s.reason, code: s.code, details: s.details && { name: s.details.name, kind: s.details.kind } };
}

function events(body: string): Json[] {
  try {
    return body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Json);
  } catch {
    return [{ type: `not JSON lines: ${body.slice(0, 80)}` }];
  }
}

function json(body: string): Json {
  try {
    return JSON.parse(body) as Json;
  } catch {
    return { notJson: body.slice(0, 80) };
  }
}

const multiByte = 'Zürich – 東京 – 😀 – ünïcødé';

async function fakeTarget(): Promise<{ t: Target; stop: () => Promise<void> }> {
  const api = await FakeApiServer.start({ splitChunks: true });
  const ns = 'parity';
  api.writeServiceAccount(tempDir(), ns);
  const pod = makePod({ name: 'parity', namespace: ns, containers: ['main', 'proxy'] });
  pod.metadata.annotations = { note: multiByte };
  const created = String(api.putPod(pod).metadata.resourceVersion);
  const token = api.token;
  return {
    t: {
      name: 'fake', host: api.host, port: api.port, ca: api.ca, token, stranger: api.strangerToken(), namespace: ns, created,
      async touch(message) {
        return api.updatePod(ns, 'parity', (p) => { p.status.containerStatuses[0].state = { waiting: { reason: 'ContainerCreating', message } }; }).metadata.resourceVersion as string;
      },
    },
    stop: () => api.stop(),
  };
}

async function realTarget(): Promise<Target> {
  const kube = new RealKubeletApi(access!, `parity-${Math.random().toString(16).slice(2, 8)}`);
  const pod = makePod({ name: 'parity', containers: ['main', 'proxy'] });
  pod.metadata.annotations = { note: multiByte };
  const status = pod.status;
  const created = String((await kube.createPod(pod)).metadata.resourceVersion);
  kube.writeStatus(status);
  await kube.settled();
  await kube.mountServiceAccount(tempDir());
  await kube.call('POST', `/api/v1/namespaces/${kube.namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'stranger' } });
  const stranger = await kube.call('POST', `/api/v1/namespaces/${kube.namespace}/serviceaccounts/stranger/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  return {
    name: 'real', host: access!.host, port: access!.port, ca: access!.ca, token: kube.token, stranger: stranger.status.token, namespace: kube.namespace, created,
    async touch(message) {
      const p = await kube.call('PATCH', `/api/v1/namespaces/${kube.namespace}/pods/parity/status`,
        { status: { containerStatuses: [{ ...status.containerStatuses[0], state: { waiting: { reason: 'ContainerCreating', message } } }, status.containerStatuses[1]] } },
        'application/merge-patch+json');
      return p.metadata.resourceVersion as string;
    },
  };
}

/** Every probe, run against one target; the result is what must be equal on both. */
async function probe(t: Target): Promise<Json> {
  const ns = t.namespace;
  const pods = `/api/v1/namespaces/${ns}/pods`;
  const watch = (q: string): string => `${pods}?watch=true&fieldSelector=metadata.name%3Dparity&timeoutSeconds=1${q}`;
  const out: Json = {};

  const get = await send(t, `${pods}/parity`);
  const pod = json(get.body);
  out.get = { status: get.status, contentType: get.contentType, kind: pod.kind, note: pod.metadata.annotations.note, qosClass: pod.status.qosClass };

  const missing = await send(t, `${pods}/missing`);
  out.notFound = { status: missing.status, contentType: missing.contentType, body: status(missing.body) };

  const fresh = await send(t, watch(''));
  const first = events(fresh.body);
  out.watch = { status: fresh.status, contentType: fresh.contentType, chunked: fresh.chunked, types: first.map((e) => e.type), note: first[0]?.object.metadata.annotations.note };

  // A resume from the current version, with a change: one MODIFIED, multi-byte strings
  // intact. Whenever the watch opens, a change after its version is delivered.
  const rv = pod.metadata.resourceVersion as string;
  const resumed = send(t, watch(`&resourceVersion=${rv}`));
  const changed = await t.touch(multiByte);
  const resume = await resumed;
  out.resume = { status: resume.status, types: events(resume.body).map((e) => e.type), message: events(resume.body)[0]?.object?.status?.containerStatuses?.find((c: Json) => c.name === 'main')?.state.waiting.message };

  // A version between two writes (not any object's own) is valid: changes after it.
  const between = String(BigInt(changed) - 1n);
  const mid = await send(t, watch(`&resourceVersion=${between}`));
  out.between = { status: mid.status, types: events(mid.body).map((e) => e.type) };

  // A version older than any write of the Pod: while the history is within the watch
  // cache's window (nothing compacted), the Pod's whole history is replayed, not a 410.
  // Just before its creation, not version 1: the real server is shared by the whole run,
  // and its window of Pod events (all namespaces) had moved past 1 by the time this ran
  // in CI. (How many writes the Pod went through differs: compare the opening.)
  const stale = events((await send(t, watch(`&resourceVersion=${BigInt(t.created) - 1n}`))).body);
  out.stale = { first: stale[0]?.type, errors: stale.filter((e) => e.type === 'ERROR').length, last: stale.at(-1)?.object?.metadata?.resourceVersion === changed };

  // A version far in the future: whatever the real server says.
  const future = await send(t, watch(`&resourceVersion=${BigInt(changed) + 1_000_000n}`));
  out.future = { status: future.status, body: future.status === 200 ? events(future.body).map((e) => ({ type: e.type, ...(e.type === 'ERROR' ? status(JSON.stringify(e.object)) : {}) })) : status(future.body) };

  const unauthorized = await send(t, `${pods}/parity`, 'not-a-token');
  out.unauthorized = { status: unauthorized.status, body: status(unauthorized.body) };
  const forbidden = await send(t, watch(''), t.stranger);
  out.forbidden = { status: forbidden.status, body: status(forbidden.body), message: String(json(forbidden.body).message).replace(/serviceaccount:[^:]+:/, 'serviceaccount:NS:').replace(/namespace "[^"]+"/, 'namespace "NS"') };
  const forbiddenGet = await send(t, `${pods}/parity`, t.stranger);
  out.forbiddenGet = { status: forbiddenGet.status, body: status(forbiddenGet.body) };

  const version = await send(t, '/version');
  out.version = { status: version.status, contentType: version.contentType, keys: Object.keys(json(version.body)).filter((k) => ['major', 'minor', 'gitVersion'].includes(k)).sort() };
  const api = await send(t, '/api');
  out.api = { status: api.status, kind: json(api.body).kind, versions: json(api.body).versions };
  const apis = await send(t, '/apis');
  out.apis = { status: apis.status, kind: json(apis.body).kind };
  const v1 = await send(t, '/api/v1');
  out.v1 = { status: v1.status, kind: json(v1.body).kind, pods: (json(v1.body).resources as Json[] | undefined)?.find((r) => r.name === 'pods')?.verbs?.includes('watch') };
  return out;
}

test('parity: the fake API server answers as the real one does', opts, async (t) => {
  const fake = await fakeTarget();
  t.after(() => fake.stop());
  const real = await probe(await realTarget());
  const faked = await probe(fake.t);
  const differ = Object.keys(real).filter((k) => JSON.stringify(faked[k]) !== JSON.stringify(real[k]));
  assert.deepEqual(differ.map((k) => ({ [k]: faked[k] })), differ.map((k) => ({ [k]: real[k] })), `differences (fake, then real): ${differ.join(', ')}`);
});
