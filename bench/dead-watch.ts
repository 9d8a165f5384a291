// `npm run bench:dead-watch`: how long proa is blind after its watch connection dies
// without a FIN (a half-open connection), with the default --watch-timeout. Several
// proa processes watch through a TCP proxy; each connection is blackholed at a random
// moment of its stream, and the figure is the time from the blackhole to the next
// watch request reaching the API server. Also counts watch requests per Pod per hour
// on a quiet, healthy Pod (the cost of the detection). Takes about two minutes.
import { join } from 'node:path';
import { FakeApiServer } from '../testbed/api/fake-apiserver.ts';
import { makePod, running } from '../test/pods.ts';
import { tempDir } from '../testbed/paths.ts';
import { proa, type Run } from '../test/proa.ts';
import { TcpProxy } from '../test/tcp-proxy.ts';

const pods = Number(process.env.BENCH_PODS ?? 8);
const api = await FakeApiServer.start();
const sa = api.writeServiceAccount(join(tempDir(), 'sa'), 'default');
const quietMs = Number(process.env.BENCH_QUIET_SECONDS ?? 110) * 1000;

interface Sample { blackholedAt: number; replacedAt: number }

async function one(i: number): Promise<Sample> {
  const name = `dead-${i}`;
  const pod = makePod({ name, containers: ['main', 'proxy'] });
  running(pod, 'proxy', false);
  api.putPod(pod);
  const proxy = await TcpProxy.start('127.0.0.1', api.port);
  const run: Run = proa(['--shutdown-timeout', '0', 'true'], { ...api.clusterEnv(sa), KUBERNETES_SERVICE_PORT: String(proxy.port), POD_NAME: name, PROA_LOG: 'info' });
  const mine = (path: string, q: Record<string, string>): boolean => path.endsWith('/pods') && q.fieldSelector === `metadata.name=${name}`;
  const first = await api.waitForRequest((r) => mine(r.path, r.query));
  // Somewhere in the stream's life (50 s by default): the worst case is right after it opened.
  const delay = Math.random() * 50_000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, first.at + delay - performance.now())));
  const count = api.requests.length;
  proxy.blackhole();
  const blackholedAt = performance.now();
  const next = await api.waitForRequest((r) => mine(r.path, r.query) && r.at > blackholedAt, count);
  run.child.kill('SIGKILL');
  await run.exited;
  await proxy.stop();
  return { blackholedAt, replacedAt: next.at };
}

async function quiet(): Promise<number> {
  const name = 'quiet';
  const pod = makePod({ name, containers: ['main', 'proxy'] });
  running(pod, 'proxy', false);
  api.putPod(pod);
  const run = proa(['--shutdown-timeout', '0', 'true'], { ...api.clusterEnv(sa), POD_NAME: name, PROA_LOG: 'error' });
  const from = performance.now();
  await new Promise((resolve) => setTimeout(resolve, quietMs));
  const at = api.requests.filter((r) => r.query.fieldSelector === `metadata.name=${name}` && r.at >= from).map((r) => r.at);
  run.child.kill('SIGKILL');
  await run.exited;
  // From the interval between successive watches, so that the window's edges do not count.
  return 3_600_000 / ((at.at(-1)! - at[0]!) / (at.length - 1));
}

const [samples, perHour] = await Promise.all([Promise.all(Array.from({ length: pods }, (_, i) => one(i))), quiet()]);
const blind = samples.map((s) => (s.replacedAt - s.blackholedAt) / 1000).sort((a, b) => a - b);
console.log(`dead watch noticed and replaced, ${pods} half-open connections blackholed at random moments (default --watch-timeout):`);
console.log(`  seconds from blackhole to the next watch request: min ${blind[0]!.toFixed(1)}, median ${blind[Math.floor(blind.length / 2)]!.toFixed(1)}, max ${blind.at(-1)!.toFixed(1)} (bound: 55)`);
console.log(`  watch requests per Pod per hour on a quiet, healthy Pod: ${perHour.toFixed(1)} (measured over ${quietMs / 1000}s)`);
await api.stop();
process.exit(0);
