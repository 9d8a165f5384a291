// A test bed for one binary run: the fake API server holding one Pod, a service-account
// directory, and a recorder for shutdown requests. Every run is checked for the token
// in its output when the bed is torn down.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { FakeApiServer, type FakeApiOptions, type Json } from '../testbed/api/fake-apiserver.ts';
import { tempDir } from '../testbed/paths.ts';
import { proa, type Run } from './proa.ts';
import { Recorder } from './recorder.ts';

export interface Bed {
  api: FakeApiServer;
  rec: Recorder;
  saDir: string;
  name: string;
  namespace: string;
  env: Record<string, string>;
  update(change: (pod: Json) => void): void;
  run(args: string[], env?: Record<string, string>): Run;
  watches(): number;
}

export async function bed(t: TestContext, pod: Json | undefined, opts: FakeApiOptions & { host?: string; podName?: string } = {}): Promise<Bed> {
  const api = await FakeApiServer.start(opts, opts.host);
  const rec = await Recorder.start();
  const namespace = pod?.metadata.namespace ?? 'default';
  const name = pod?.metadata.name ?? opts.podName ?? 'missing-pod';
  const saDir = api.writeServiceAccount(join(tempDir(), 'serviceaccount'), namespace);
  if (pod) api.putPod(pod);
  const runs: Run[] = [];
  const tokens = new Set<string>([api.token]);
  api.on('request', () => tokens.add(api.token));
  t.after(async () => {
    for (const r of runs) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
      for (const token of tokens) assert.ok(!r.dump().includes(token) && !r.stdout.includes(token), 'the token never appears in the output');
    }
    await api.stop();
    await rec.stop();
  });
  const env = { ...api.clusterEnv(saDir), POD_NAME: name, POD_NAMESPACE: namespace };
  return {
    api, rec, saDir, name, namespace, env,
    update: (change) => void api.updatePod(namespace, name, change),
    run(args, extra = {}) {
      const r = proa(args, { ...env, ...extra });
      runs.push(r);
      return r;
    },
    watches: () => api.requests.filter((r) => r.query.watch !== undefined).length,
  };
}
