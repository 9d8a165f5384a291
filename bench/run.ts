// `npm run bench`: what proa adds to a Pod, side by side with its floor and a polling
// peer, as one table (printed, and written to bench/results.json). A few minutes; the
// real binary throughout; never fails on a time (targets are reported, not enforced).
//   BENCH_RUNS (30)      runs per timed figure
//   BENCH_QUIET (105)    seconds of the quiet-Job measurement (two watch renewals)
//   BENCH_NODE_RUNS (5)  runs per Job kind on the real node (BENCH_NODE=0: not run)
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binary, node, root, tempDir } from '../testbed/paths.ts';
import { ControlPlane, kubeBinariesBuilt } from '../testbed/api/real-apiserver.ts';
import { drops, herd, quiet } from './api-load.ts';
import { peakRss, reference, sizes, startup, type Command } from './footprint.ts';
import { endpointOnce, pollingOnce } from './polling.ts';
import { reactionOnce, type Reaction } from './reaction.ts';
import { summarise, type Summary } from './stats.ts';
import { clock, floor } from './tools.ts';
import { nodeFigures } from './node.ts';
import { aloneCopy, idleFloor, together, type Footprint } from './memory.ts';
import { probeRates } from './probing.ts';
import { nodeMissing } from '../testbed/node/node.ts';

const runs = Number(process.env.BENCH_RUNS ?? 30);
const quietSeconds = Number(process.env.BENCH_QUIET ?? 105);

interface Row {
  figure: string;
  unit: string;
  summary?: Summary;
  value?: number;
  target?: string;
  met?: boolean;
  note?: string;
}
const rows: Row[] = [];
const say = (text: string): void => void process.stderr.write(`bench: ${text}\n`);

// A part that fails (it throws, or an error nobody caught surfaces while it runs: a socket
// reset on a TLS connection once lost a whole run) is one row that says so, and the bench
// goes on: the rest of the table is still measured and written. Each part is bounded, so a
// part that an uncaught error left waiting forever does not hold up the rest.
const failures: { part: string; error: string; uncaught: boolean }[] = [];
let current = 'set-up';
const errorText = (err: unknown): string => (err instanceof Error ? `${err.message}${(err as NodeJS.ErrnoException).code ? ` (${(err as NodeJS.ErrnoException).code})` : ''}` : String(err));
const failed = (part: string, err: unknown, uncaught = false): void => {
  failures.push({ part, error: errorText(err), uncaught });
  say(`${uncaught ? `an error nobody caught, during ${part}` : `${part} failed`}: ${errorText(err)}${err instanceof Error && err.stack ? `\n${err.stack}` : ''}`);
};
process.on('uncaughtException', (err) => failed(current, err, true));
process.on('unhandledRejection', (err) => failed(current, err, true));
async function part<T>(name: string, boundMinutes: number, run: () => Promise<T>): Promise<T | undefined> {
  current = name;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([run(), new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done within ${boundMinutes} min`)), boundMinutes * 60_000);
    })]);
  } catch (err) {
    failed(name, err);
    return undefined;
  } finally {
    clearTimeout(timer);
    current = 'between parts';
  }
}
const kib = (xs: number[]): number[] => xs.map((x) => x / 1024);

// Built first (they block while they build): nothing may hold up the quiet Job's API server.
clock();
const floorSea = floor();
const plane = kubeBinariesBuilt() ? await part('the real API server', 2, () => ControlPlane.start()) : undefined;
if (plane) process.env.PROA_REAL_API = JSON.stringify(plane.access);
// The quiet Job runs in the background the whole time: it only waits.
say(`a quiet Job, watched for ${quietSeconds} s in the background`);
// Its own failure is said where it is awaited; a rejection meanwhile is not an unhandled one.
const quietJob = quiet(quietSeconds);
quietJob.catch(() => {});

async function reactions(kind: 'fake' | 'real'): Promise<Reaction[]> {
  say(`reaction on the ${kind} API server, ${runs} runs`);
  const out: Reaction[] = [];
  for (let i = 0; i < runs; i++) out.push(await reactionOnce(kind, i));
  return out;
}
const fake = (await part('reaction on the fake API server', 15, () => reactions('fake'))) ?? [];
let real: Reaction[] | undefined;
let realNote = '';
if (plane) {
  real = await part('reaction on the real API server', 15, () => reactions('real'));
  await part('stopping the real API server', 1, () => plane.stop());
  if (!real) realNote = 'failed: see the end of the table';
} else {
  realNote = 'not run: no kube-apiserver and etcd (npm run kube:build)';
}

const timed = (figure: string, xs: number[] | undefined, target: string, limit: (s: Summary) => boolean, note = ''): void => {
  if (!xs || xs.length === 0) return void rows.push({ figure, unit: 'ms', note: realNote || note || 'failed: see the end of the table' });
  const s = summarise(xs);
  rows.push({ figure, unit: 'ms', summary: s, target, met: limit(s), note });
};
timed('ready -> exec (fake API server)', fake.map((r) => r.readyToExec), 'p50 <= 2, p99 <= 10', (s) => s.median <= 2 && s.p99 <= 10);
timed('ready -> exec (real API server)', real?.map((r) => r.readyToExec), 'p50 <= 2, p99 <= 10', (s) => s.median <= 2 && s.p99 <= 10);
const polled = await part('a polling peer', 10, async () => {
  say(`a polling peer (once a second), ${runs} runs`);
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await pollingOnce());
  return out;
});
timed('ready -> exec, polling once a second (scuttle, linkerd-await)', polled, 'baseline', () => true);
const byEndpoint = await part('without API access', 10, async () => {
  say(`without API access (--wait-http, polled every 200 ms), ${runs} runs`);
  const out: { readyToExec: number; perSecond: number }[] = [];
  for (let i = 0; i < runs; i++) out.push(await endpointOnce());
  return out;
});
timed('ready -> exec, without API access (--wait-http)', byEndpoint?.map((r) => r.readyToExec), 'p50 <= 200', (s) => s.median <= 200);
if (byEndpoint?.length) {
  const rate = summarise(byEndpoint.map((r) => r.perSecond));
  rows.push({ figure: 'probe requests per second while waiting (--wait-http, one endpoint)', unit: 'requests/s', summary: rate, target: '<= 5', met: rate.median <= 5 });
}
timed('exit -> first shutdown request', [...fake, ...(real ?? [])].map((r) => r.exitToRequest), 'p50 <= 2', (s) => s.median <= 2, 'both API servers');
timed('last sidecar exit -> proa exit (fake)', fake.map((r) => r.lastExitToProaExit), 'p50 <= 5', (s) => s.median <= 5);
timed('last sidecar exit -> proa exit (real)', real?.map((r) => r.lastExitToProaExit), 'p50 <= 5', (s) => s.median <= 5);

const commands: Command[] = [
  ...reference,
  { name: 'floor: an empty SEA on the same base', argv: [floorSea] },
  { name: 'proa --no-wait -- /bin/true', argv: [binary, '--no-wait', '--', '/bin/true'] },
];
await part('start-up and memory against the floor', 15, async () => {
  say('start-up and memory against the floor');
  const walls = await startup(commands, Math.max(runs, 40));
  const floorStart = summarise(walls[commands[2]!.name]!).median;
  for (const c of commands) {
    const s = summarise(walls[c.name]!);
    const isProa = c.argv[0] === binary;
    rows.push({ figure: `start-up: ${c.name}`, unit: 'ms', summary: s, ...(isProa ? { target: `<= floor + 10 (${(floorStart + 10).toFixed(1)})`, met: s.median <= floorStart + 10 } : {}) });
  }
  const rss = await peakRss(commands.slice(1), 10);
  const floorRss = summarise(kib(rss[commands[2]!.name]!)).median;
  for (const c of commands.slice(1)) {
    const s = summarise(kib(rss[c.name]!));
    const isProa = c.argv[0] === binary;
    rows.push({ figure: `peak RSS: ${c.name}`, unit: 'MiB', summary: s, ...(isProa ? { target: `<= floor + 5 (${(floorRss + 5).toFixed(1)})`, met: s.median <= floorRss + 5 } : {}) });
  }
  if (fake.length === 0) return;
  for (const [name, pick] of [['peak RSS: proa over a whole Job', (r: Reaction) => r.peakRss], ['RSS: proa while the command runs', (r: Reaction) => r.rssWhileCommand]] as const) {
    const s = summarise(kib(fake.map(pick)));
    rows.push({ figure: name, unit: 'MiB', summary: s, target: `<= floor + 5 (${(floorRss + 5).toFixed(1)})`, met: s.median <= floorRss + 5 });
  }
});

await part("proa's own readiness probes", 5, async () => {
  say("proa's own readiness probes: requests a second while waiting, and after ready");
  const r = [];
  for (let i = 0; i < 3; i++) r.push(await probeRates(3000, 2000));
  const waiting = summarise(r.map((x) => x.perSecondWaiting));
  rows.push({ figure: "proa's own probe: requests per second while the sidecar is not ready (one container)", unit: 'requests/s', summary: waiting, target: '<= 5', met: waiting.max <= 5 });
  const after = summarise(r.map((x) => x.afterReady));
  rows.push({ figure: "proa's own probe: requests in the 2 s after the sidecar is ready", unit: 'requests', summary: after, target: '0', met: after.max === 0 });
});

await part('private and proportional memory', 10, async () => {
  say('memory as a Pod pays it: USS and anonymous memory while the command runs, PSS with 20 copies at once');
  const floorArgv = [idleFloor()];
  // A copy of the binary of its own: the quiet Job's proa maps the original all along, and
  // pages it maps too are not private (USS 7.9 MiB against the floor's 52.3 looked like a gain).
  const proaArgv = [aloneCopy(binary), '--no-wait', '--', 'sh', '-c', 'echo ready; exec sleep 60'];
  const one: { floor: Footprint[]; proa: Footprint[] } = { floor: [], proa: [] };
  // One copy at a time, nothing else mapping either binary: USS counts the binary's pages too.
  for (let i = 0; i < 5; i++) {
    one.floor.push(...await together(floorArgv, 1));
    one.proa.push(...await together(proaArgv, 1));
  }
  const median = (xs: Footprint[], pick: (f: Footprint) => number): Summary => summarise(kib(xs.map(pick)));
  const floorUss = median(one.floor, (f) => f.uss).median;
  const floorAnon = median(one.floor, (f) => f.anon).median;
  rows.push({ figure: 'private memory (USS), alone: floor, the empty SEA kept alive', unit: 'MiB', summary: median(one.floor, (f) => f.uss) });
  const proaUss = median(one.proa, (f) => f.uss);
  rows.push({ figure: 'private memory (USS), alone: proa --no-wait while the command runs', unit: 'MiB', summary: proaUss,
    target: `<= floor + 3 (${(floorUss + 3).toFixed(1)})`, met: proaUss.median <= floorUss + 3 });
  rows.push({ figure: 'anonymous memory (heap, stacks): floor', unit: 'MiB', summary: median(one.floor, (f) => f.anon) });
  const proaAnon = median(one.proa, (f) => f.anon);
  rows.push({ figure: 'anonymous memory (heap, stacks): proa --no-wait while the command runs', unit: 'MiB', summary: proaAnon,
    target: `<= floor + 3 (${(floorAnon + 3).toFixed(1)})`, met: proaAnon.median <= floorAnon + 3 });
  if (fake.length > 0) {
    const s = summarise(kib(fake.map((r) => r.anonWhileCommand)));
    rows.push({ figure: 'anonymous memory (heap, stacks): proa while the command runs, watching the Pod', unit: 'MiB', summary: s, target: `<= floor + 3 (${(floorAnon + 3).toFixed(1)})`, met: s.median <= floorAnon + 3 });
  }
  const [floors, proas] = [await together(floorArgv, 20), await together(proaArgv, 20)];
  rows.push({ figure: 'proportional memory (PSS), 20 copies at once: floor', unit: 'MiB', summary: summarise(kib(floors.map((f) => f.pss))) });
  rows.push({ figure: 'proportional memory (PSS), 20 copies at once: proa --no-wait', unit: 'MiB', summary: summarise(kib(proas.map((f) => f.pss))) });
});

await part('sizes', 5, async () => {
  say('sizes');
  for (const s of await sizes()) {
    const compressed = s.artifact.includes('folder') ? 'its tarball' : 'gzip -6';
    rows.push({ figure: `size: ${s.artifact}`, unit: 'MB', value: s.bytes / 1e6, note: `${compressed}: ${(s.gzipBytes / 1e6).toFixed(1)} MB, what an image layer costs` });
  }
});

say('API requests: a fault-free Job, 10 forced watch drops, a herd of 50');
if (fake.length > 0) {
  const perJob = summarise(fake.map((r) => r.requests?.pod ?? NaN));
  rows.push({ figure: 'API requests per fault-free Job: the Pod', unit: 'requests', summary: perJob, target: '1', met: perJob.max === 1 });
  const events = summarise(fake.map((r) => r.requests?.events ?? NaN));
  rows.push({ figure: "API requests per fault-free Job: proa's Events (on by default)", unit: 'requests', summary: events, target: '<= 6', met: events.max <= 6 });
}
const dropped = await part('10 forced watch drops', 5, () => drops(10));
if (dropped !== undefined) rows.push({ figure: 'API requests per Job with 10 forced watch drops', unit: 'requests', value: dropped, target: '<= 11', met: dropped <= 11 });
const h = await part('a herd of 50', 5, () => herd(50, 2000));
if (h) {
  rows.push({
    figure: 'herd: 50 proa, API down 2 s: largest share of re-watches in 100 ms', unit: '%', value: h.share * 100, target: '<= 20', met: h.share <= 0.2,
    note: `${h.returned} of 50 back within ${(h.spreadMs / 1000).toFixed(1)} s`,
  });
}
const q = await part('a quiet Job', Math.ceil(quietSeconds / 60) + 5, () => quietJob);
if (q) {
  const gap = summarise(q.gapsMs).median;
  rows.push({
    figure: 'API requests per hour of a quiet Job', unit: 'requests', value: 3600_000 / gap,
    target: 'as low as the 60 s detection allows (72)', met: 3600_000 / gap <= 72.5,
    note: `a watch every ${(gap / 1000).toFixed(1)} s (${q.requests} requests in ${quietSeconds} s)`,
  });
}

// kubexit (client-go, watches its Pod too): measured only if the Go module proxy serves it.
const kubexit = ((): string => {
  const go = ['go', '/usr/local/go/bin/go'].find((g) => spawnSync(g, ['version'], { stdio: 'ignore' }).status === 0);
  if (!go) return 'not measured: no Go toolchain';
  const dir = tempDir('proa-kubexit-');
  const r = spawnSync(go, ['list', '-m', '-versions', 'github.com/karlkfi/kubexit'], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' } });
  if (r.status === 0) return `the Go module proxy serves it (${r.stdout.trim()}): not yet measured here`;
  return `not measured: the Go module proxy refused github.com/karlkfi/kubexit (${(r.stderr.match(/\d{3} [A-Za-z ]+/)?.[0] ?? r.stderr.trim().split('\n').at(-1) ?? '').trim()})`;
})();
rows.push({ figure: 'kubexit (ready -> exec, start-up, RSS)', unit: '', note: kubexit });

// The real node: what proa adds to a Job end to end, and to the API server in a burst.
const nodeRuns = Number(process.env.BENCH_NODE_RUNS ?? 5);
const missing = nodeMissing();
if (missing || process.env.BENCH_NODE === '0') {
  rows.push({ figure: 'a Job on the real node', unit: '', note: `not run: ${missing ?? 'BENCH_NODE=0'}` });
} else {
  say(`the real node: one Job of each kind, ${nodeRuns} runs, then a burst of 30 Jobs twice`);
  const n = await part('the real node', 60, () => nodeFigures(nodeRuns, say));
  if (n) {
    rows.push({ figure: 'real node: start to Ready with kube-root-ca.crt', unit: 'ms', value: n.startupMs });
    for (const [k, xs] of Object.entries(n.jobMs)) {
      const period = k.slice(k.lastIndexOf(', ') + 2);
      const others = Object.entries(n.jobMs).filter(([o]) => o.endsWith(period) && (o.startsWith('native') || o.startsWith('polling'))).map(([, ys]) => summarise(ys).median);
      const proa = k.startsWith('proa, ');
      const withEvents = n.jobMs[k.replace('proa --events off', 'proa')];
      rows.push({ figure: `real node: kubectl apply -> Job Complete, ${k}`, unit: 'ms', summary: summarise(xs),
        ...(proa ? { target: '<= the native sidecar and the polling peer', met: summarise(xs).median <= Math.min(...others) } : {}),
        ...(k.startsWith('proa --events off') && withEvents ? { note: `with Events (the default): median ${summarise(withEvents).median.toFixed(0)} ms, ` +
          `min-max ${summarise(withEvents).min.toFixed(0)}-${summarise(withEvents).max.toFixed(0)} ms` } : {}) });
    }
    for (const [k, xs] of Object.entries(n.servingMs)) {
      const proa = k.startsWith('proa, ');
      rows.push({ figure: `real node: sidecar serving -> program started, ${k}`, unit: 'ms', summary: summarise(xs),
        ...(proa ? { target: 'p50 <= 300', met: summarise(xs).median <= 300 } : {}),
        ...(k.startsWith('native') ? { note: 'the kubelet starts the program once the startupProbe passes' +
          (n.neverServed[k] ? `; in ${n.neverServed[k]} of ${nodeRuns} runs the sidecar never served: the program was done and the kubelet stopped it first` : '') } : {}) });
    }
    for (const [v, b] of Object.entries(n.burst)) {
      rows.push({ figure: `real node, 30 Jobs at once, ${v}: apply -> all Complete`, unit: 'ms', value: b.ms });
      rows.push({ figure: `real node, 30 Jobs at once, ${v}: API server requests`, unit: 'requests', value: b.requests });
      rows.push({ figure: `real node, 30 Jobs at once, ${v}: API server CPU`, unit: 'ms', value: b.cpuMs });
    }
  }
}
current = 'writing the table';
for (const f of failures) {
  rows.push({ figure: f.uncaught ? `FAILED: an error nobody caught, during ${f.part} (its figures above may be off)` : `FAILED: ${f.part} (no figures)`, unit: '', note: f.error.replace(/\|/g, '/').replace(/\n/g, ' ') });
}

// --- the table ---------------------------------------------------------------------------
const cpu = cpus();
const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30) };
const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
const proaVersion = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
const fmt = (x: number | undefined): string => x === undefined || Number.isNaN(x) ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1);
const lines = [
  `npm run bench, ${new Date().toISOString().slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${nodeVersion}; ${proaVersion}; ${runs} runs per timed figure`,
  '',
  '| figure | unit | runs | min | median | p99 | max | target | met |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const s = r.summary;
    const cells = s ? [String(s.runs), fmt(s.min), fmt(s.median), fmt(s.p99), fmt(s.max)] : ['', '', fmt(r.value), '', ''];
    const met = r.met === undefined ? '' : r.met ? 'yes' : 'no';
    return `| ${r.figure}${r.note ? ` (${r.note})` : ''} | ${r.unit} | ${cells.join(' | ')} | ${r.target ?? ''} | ${met} |`;
  }),
];
console.log(lines.join('\n'));
const results = { date: new Date().toISOString(), command: 'npm run bench', machine, node: nodeVersion, proa: proaVersion, runs, rows, failures };
writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
say('wrote bench/results.json');
if (failures.length > 0) say(`${failures.length} part(s) failed: ${failures.map((f) => f.part).join(', ')}; the rest of the table is above`);
process.exit(failures.length > 0 ? 1 : 0);
