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
