// `npm run bench`: what proa costs. Wall time of `proa --no-wait -- /bin/true` against
// `/bin/true` alone, and in a simulated Pod the delay from the sidecar's readiness
// reaching the API server to proa starting the command.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { binary } from '../test/proa.ts';
import { Simulator } from '../test/simulator.ts';
import { freePort, httpSidecar, podManifest, proaContainer, proaLog } from '../test/e2e.ts';

const runs = Number(process.env.BENCH_RUNS ?? 40);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function wall(command: string, args: string[]): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const r = spawnSync(command, args, { stdio: 'ignore', env: { PATH: process.env.PATH ?? '', PROA_LOG: 'error' } });
    times.push(performance.now() - start);
    if (r.status !== 0) throw new Error(`${command} exited ${r.status}`);
  }
  return times;
}

const bare = median(wall('/bin/true', []));
const wrapped = median(wall(binary, ['--no-wait', '--', '/bin/true']));
console.log(`binary size: ${(statSync(binary).size / 1e6).toFixed(1)} MB (${binary})`);
console.log(`median wall time over ${runs} runs: /bin/true ${bare.toFixed(1)} ms; proa --no-wait -- /bin/true ${wrapped.toFixed(1)} ms (+${(wrapped - bare).toFixed(1)} ms)`);

const delays: number[] = [];
for (let i = 0; i < 5; i++) {
  const port = await freePort();
  const sim = await Simulator.start(podManifest(`bench-${i}`, {
    containers: [proaContainer([`-g=http://127.0.0.1:${port}/shutdown`], ['true']), httpSidecar('proxy', port, 0.5)],
  }));
  await sim.finished;
  const ready = sim.timeline.find((e) => e.type === 'status' && e.container === 'proxy' && e.ready === true)!;
  const started = proaLog(sim, 'command started')!;
  delays.push(started.t - ready.t);
  await sim.stop();
}
console.log(`sidecar ready (status written) -> command started, median of ${delays.length} simulated Pods: ${median(delays).toFixed(1)} ms`);

// Under a persistent error the watch must back off: thousands of Pods reconnect at once
// after an API-server restart. Count proa's requests against a server that answers 503.
{
  const { FakeApiServer } = await import('../test/fake-apiserver.ts');
  const { proa, tempDir } = await import('../test/proa.ts');
  const { makePod } = await import('../test/pods.ts');
  const api = await FakeApiServer.start();
  const sa = api.writeServiceAccount(`${tempDir()}/sa`, 'default');
  api.putPod(makePod({ name: 'bench', containers: ['main', 'proxy'] }));
  api.failNext(...Array.from({ length: 10_000 }, () => ({ status: 503 })));
  const seconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 30);
  const run = proa(['--ready-timeout', `${seconds}s`, 'true'], { ...api.clusterEnv(sa), POD_NAME: 'bench', PROA_LOG: 'error' });
  await run.exited;
  const at = api.requests.map((r) => r.at);
  const after = at.slice(5);
  const rate = after.length > 1 ? (after.length - 1) / ((after[after.length - 1]! - after[0]!) / 1000) : 0;
  console.log(`API answering 503 for ${seconds}s: ${at.length} requests; after the first 5, ${rate.toFixed(2)} requests/s`);
  await api.stop();
}
