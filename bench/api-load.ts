// What proa costs the API server: requests for a quiet wait (the dead-watch detection's
// price), requests when the watch is dropped again and again, and the herd: how many of
// 50 proa processes come back in the same 100 ms after the API server returns.
import { join } from 'node:path';
import { FakeApiServer } from '../testbed/api/fake-apiserver.ts';
import { makePod, running, terminated } from '../test/pods.ts';
import { tempDir } from '../testbed/paths.ts';
import { proa, type Run } from '../test/proa.ts';
import { TcpProxy } from '../test/tcp-proxy.ts';

async function waitingPod(api: FakeApiServer, name: string): Promise<Record<string, string>> {
  const pod = makePod({ name, containers: ['main', 'proxy'] });
  running(pod, 'main', true);
  running(pod, 'proxy', false);
  api.putPod(pod);
  return { ...api.clusterEnv(api.writeServiceAccount(join(tempDir('proa-bench-'), 'sa'), 'default')), POD_NAME: name };
}

const watches = (api: FakeApiServer): number[] => api.requests.filter((r) => r.query.watch !== undefined).map((r) => r.at);

/** Resolves when the API server has received `n` watch requests since `since` (performance.now()). */
function watchesReach(api: FakeApiServer, n: number, since = -Infinity): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (watches(api).filter((t) => t >= since).length < n) return;
      api.off('request', check);
      resolve();
    };
    api.on('request', check);
    check();
  });
}

/** A Pod whose sidecar never turns ready, watched for `seconds` with the default options: the watch requests' times (ms). */
export async function quiet(seconds: number): Promise<{ requests: number; gapsMs: number[] }> {
  const api = await FakeApiServer.start({ bookmarkIntervalMs: 60_000 });
  const run = proa(['--', 'true'], { ...(await waitingPod(api, 'quiet')), PROA_LOG: 'error' });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  run.child.kill('SIGKILL');
  await run.exited;
  const at = watches(api);
  await api.stop();
  return { requests: api.requests.length, gapsMs: at.slice(1).map((t, i) => t - at[i]!) };
}

/** One Job whose watch is cut `drops` times while proa waits: the requests it cost in all. */
export async function drops(drops: number): Promise<number> {
  const api = await FakeApiServer.start();
  const env = await waitingPod(api, 'drops');
  const proxy = await TcpProxy.start(api.host, api.port);
  const run: Run = proa(['--', 'true'], { ...env, KUBERNETES_SERVICE_PORT: String(proxy.port) });
  for (let i = 1; i <= drops; i++) {
    await watchesReach(api, i);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the stream is open and read
    proxy.drop();
  }
  await watchesReach(api, drops + 1);
  api.updatePod('default', 'drops', (p) => running(p, 'proxy', true));
  await run.waitFor('command exited');
  api.updatePod('default', 'drops', (p) => terminated(p, 'proxy', 0));
  await run.exited;
  await proxy.stop();
  await api.stop();
  // proa's Events (the wait, the shutdown) are counted apart: bench/reaction.ts.
  return api.podRequests.length;
}

/** `n` proa processes watch one API server, which drops every connection and stays down `downMs`. */
export async function herd(n: number, downMs: number): Promise<{ share: number; spreadMs: number; returned: number }> {
  const api = await FakeApiServer.start();
  const env = await waitingPod(api, 'herd');
  const runs = Array.from({ length: n }, () => proa(['--', 'true'], { ...env, PROA_LOG: 'error' }));
  try {
    await watchesReach(api, n);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await api.restart(downMs);
    const up = performance.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watchesReach(api, n, up), new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))]);
    clearTimeout(timer);
    const back = watches(api).filter((t) => t >= up).sort((a, b) => a - b);
    let largest = 0;
    for (let i = 0; i < back.length; i++) {
      let j = i;
      while (j < back.length && back[j]! - back[i]! < 100) j++;
      largest = Math.max(largest, j - i);
    }
    return { share: largest / n, spreadMs: (back.at(-1) ?? up) - (back[0] ?? up), returned: back.length };
  } finally {
    for (const r of runs) r.child.kill('SIGKILL');
    await Promise.all(runs.map((r) => r.exited));
    await api.stop();
  }
}
