// The soak: many simulated Jobs, each with random faults from the simulator's and the
// fake API server's knobs, and after each one a check of proa's promises:
//   1 exit code   proa exits with a code it owes, given what happened
//   2 ready       the command starts only when every sidecar is ready in the last
//                 Pod status the API server had published when proa decided to start it
//   3 pod ends    every sidecar exits (every sidecar here has an enabled endpoint)
//   4 bounded     proa exits within its shutdown bound after it decided to stop
//   5 token       no service-account token in any output
//   6 api load    requests to the API server stay under a stated rate
// `npm run soak` (default 200 Jobs) prints the counts and writes them as JSON; a broken
// promise prints the seed that replays that Job: `npm run soak -- --seed N --jobs 1`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { binary, node, root } from '../testbed/paths.ts';
import { Simulator, type TimelineEvent } from '../testbed/simulator/simulator.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { freePort, pidOf } from './e2e.ts';

/** A small seeded PRNG (mulberry32): a Job's faults are a function of its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The stated API load bound: at most 10 requests in any one-second window, and at most
 * 5 + 1 per second of the Job's life in all (a watch drop costs one resume, a 410 two).
 */
export const apiBurstPerSecond = 10;
const apiBaseRequests = 5;
const apiPerSecond = 1;

const sidecarScript = join(root, 'test', 'bin', 'faulty-sidecar.mjs');

interface Fault {
  at: number;
  kind: string;
  detail?: string;
}

interface JobPlan {
  seed: number;
  sidecars: { name: string; port: number; env: Record<string, string> }[];
  code: number;
  commandSeconds: number;
  readyTimeout?: number;
  shutdownTimeoutS: number;
  faults: Fault[];
}

export interface JobResult {
  seed: number;
  faults: string[];
  exitCode: number | undefined;
  broken: string[];
  /** A status published between proa's decision and the command's start (see promise 2). */
  race: string | undefined;
  durationMs: number;
}

export interface SoakReport {
  jobs: number;
  seed: number;
  faultsInjected: number;
  faultKinds: Record<string, number>;
  broken: Record<string, number>;
  failures: { seed: number; broken: string[]; faults: string[] }[];
  /** Races of promise 2 (not breaks): a status published after proa decided, before the command began. */
  races: { seed: number; race: string }[];
  durationS: number;
}

async function planJob(seed: number): Promise<JobPlan> {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number): boolean => r() < p;
  const n = chance(0.4) ? 2 : 1;
  const sidecars: JobPlan['sidecars'] = [];
  const faults: Fault[] = [];
  for (let i = 0; i < n; i++) {
    const env: Record<string, string> = { STARTUP_SECONDS: (r() * 2.5).toFixed(2) };
    if (chance(0.3)) env.SHUTDOWN_FAILS = String(1 + Math.floor(r() * 4));
    if (chance(0.15)) env.FLAP_SECONDS = (1 + r() * 2).toFixed(1);
    if (chance(0.1)) env.CRASH_AFTER = (r() * 3).toFixed(2);
    if (chance(0.08)) env.NEVER_READY = '1';
    for (const k of ['SHUTDOWN_FAILS', 'FLAP_SECONDS', 'CRASH_AFTER', 'NEVER_READY']) {
      if (env[k]) faults.push({ at: 0, kind: k.toLowerCase(), detail: `sidecar-${i}=${env[k]}` });
    }
    sidecars.push({ name: `sidecar-${i}`, port: await freePort(), env });
  }
  const api = ['storm', 'drop', 'gone', 'restart', 'rotate'];
  for (const kind of api) if (chance(0.25)) faults.push({ at: r() * 4000, kind });
  if (chance(0.12)) faults.push({ at: r() * 6000, kind: 'delete' });
  if (chance(0.12)) faults.push({ at: 200 + r() * 2000, kind: 'term-proa' });
  const neverReady = sidecars.some((s) => s.env.NEVER_READY);
  return {
    seed, sidecars, faults,
    code: pick([0, 0, 0, 1, 3]),
    commandSeconds: r() * 1.5,
    ...(neverReady || chance(0.1) ? { readyTimeout: 2 + r() * 3 } : {}),
    shutdownTimeoutS: 6 + Math.floor(r() * 5),
  };
}

function manifest(plan: JobPlan): Json {
  // $$ is Kubernetes' escape for $.
  const script = `echo "command-start $(date +%s%3N)"; trap 'echo command-term; exit 143' TERM; sleep ${plan.commandSeconds.toFixed(2)} & wait $$!; exit ${plan.code}`;
  const flags = [
    ...plan.sidecars.map((s) => `--shutdown-http-post=http://127.0.0.1:${s.port}/shutdown`),
    `--shutdown-timeout=${plan.shutdownTimeoutS}s`,
    '--shutdown-http-timeout=2s',
    ...(plan.readyTimeout ? [`--ready-timeout=${plan.readyTimeout.toFixed(1)}s`] : []),
  ];
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `soak-${plan.seed}`, namespace: 'soak' },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 20,
      // The account the README's Role is bound to: the simulator grants proa what a cluster would.
      serviceAccountName: 'proa',
      containers: [
        {
          name: 'main', image: 'app', command: [binary, ...flags, '--', 'sh', '-c', script],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'PROA_LOG', value: 'debug' },
          ],
        },
        ...plan.sidecars.map((s) => ({
          name: s.name, image: 'x', command: [node, sidecarScript],
          env: Object.entries({ PORT: String(s.port), ...s.env }).map(([name, value]) => ({ name, value })),
          readinessProbe: { httpGet: { path: '/ready', port: s.port }, periodSeconds: 1, failureThreshold: 1 },
        })),
      ],
    },
  };
}

/** proa's log lines that say it decided to stop without running the command. */
const stopDecision = /^(sidecars not ready after|the Pod is being deleted before|cannot use the Kubernetes API)|terminated and will not be restarted/;

/** proa's own log lines (JSON on stderr) with the timeline time each arrived. */
function proaLines(sim: Simulator): { t: number; l: Json }[] {
  return sim.timeline.filter((e) => e.type === 'log' && e.container === 'main' && e.stream === 'stderr').flatMap((e) => {
    try {
      return [{ t: e.t, l: JSON.parse(String(e.line)) as Json }];
    } catch {
      return [];
    }
  });
}

export async function runJob(seed: number): Promise<JobResult> {
  const plan = await planJob(seed);
  const started = performance.now();
  const sim = await Simulator.start(manifest(plan), { backoffBaseMs: 300 });
  const api = sim.fake;
  const tokens = new Set<string>([api.token]);
  const writes: { wall: number; pod: Json }[] = [];
  api.on('write', (entry: { object: Json }) => writes.push({ wall: Date.now(), pod: entry.object }));
  const injected: Fault[] = [];
  const timers: NodeJS.Timeout[] = [];
  let proaExit: TimelineEvent | undefined;
  const inject = (f: Fault): void => {
    if (proaExit) return;
    injected.push({ ...f, at: Math.round(performance.now() - started) });
    switch (f.kind) {
      case 'storm': api.failNext(...Array.from({ length: 6 }, (_, i) => ({ status: i % 3 === 0 ? 429 : 503, retryAfterSeconds: i % 3 === 0 ? 1 : undefined }))); api.endWatches(); break;
      case 'drop': api.endWatches(); break;
      case 'gone': api.compact(); api.endWatches(); break;
      case 'restart': void api.restart(1500); break;
      case 'rotate': tokens.add(api.rotateToken()); break;
      case 'delete': sim.delete(); break;
      case 'term-proa': {
        // A signal to proa alone while it waits or runs the command. Once it is shutting
        // down (the command exited, or it decided to stop), a TERM ends
        // its shutdown at once by design (it is the kubelet stopping the whole Pod), which
        // a TERM to proa alone would not be: not injected then.
        if (proaLines(sim).some((x) => stopDecision.test(String(x.l.msg)) || x.l.msg === 'command exited')) {
          injected.pop();
          break;
        }
        const pid = pidOf(sim, 'main');
        if (pid) process.kill(pid, 'SIGTERM');
        break;
      }
    }
  };
  for (const f of plan.faults) {
    if (f.at === 0) injected.push(f);
    else timers.push(setTimeout(() => inject(f), f.at));
  }
  proaExit = await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  for (const t of timers) clearTimeout(t);
  // The Pod must end: every sidecar exits within the bound (it has already been given).
  const ended = await Promise.race([sim.finished.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
  const lines = proaLines(sim);
  const stdout = sim.timeline.filter((e) => e.type === 'log' && e.container === 'main' && e.stream === 'stdout').map((e) => String(e.line));
  const broken: string[] = [];
  const has = (kind: string): boolean => injected.some((f) => f.kind === kind);
  const code = Number(proaExit.exitCode);

  // 1: the code owed.
  const commandStart = stdout.find((l) => l.startsWith('command-start '));
  if (proaExit.signal === 'SIGKILL') broken.push('bounded: proa was killed by the kubelet at the end of the grace period');
  else if (commandStart) {
    const owed = stdout.includes('command-term') ? 143 : plan.code;
    if (code !== owed) broken.push(`exit code: ${code}, owed the command's ${owed}`);
  } else {
    const allowed = new Set<number>();
    if (plan.sidecars.some((s) => s.env.CRASH_AFTER)) allowed.add(4);
    if (plan.readyTimeout) allowed.add(5);
    if (has('delete')) { allowed.add(6); allowed.add(143); }
    if (has('term-proa')) { allowed.add(143); allowed.add(6); }
    if (!allowed.has(code)) broken.push(`exit code: ${code} without the command, allowed ${[...allowed].join('/') || 'none'}`);
  }

  // 2: ready before the command, against what the API server had published when proa
  // committed to starting it (its "all sidecars are ready", on the same wall clock), or
  // against the sidecar's own last answer to proa's probe by then. A
  // status published in the few milliseconds between that and the command's first
  // instruction is a race no client can win (it had not been sent yet): counted apart.
  const notReadyIn = (w: { pod: Json } | undefined): string[] => {
    const statuses = (w?.pod.status?.containerStatuses ?? []) as Json[];
    return plan.sidecars.filter((s) => !statuses.find((c) => c.name === s.name)?.ready).map((s) => s.name);
  };
  let race: string | undefined;
  if (commandStart) {
    const started = Number(commandStart.split(' ')[1]);
    const ready = lines.find((x) => x.l.msg === 'all sidecars are ready');
    const decided = ready ? Date.parse(String(ready.l.time)) : started;
    // Both clocks count whole milliseconds, so a status published in the decision's own
    // millisecond cannot be ordered against it: it may be the one proa decided on (then
    // no break), or one it could not yet have (then a race).
    const before = writes.filter((w) => w.wall < decided).at(-1);
    const sameMs = writes.filter((w) => w.wall === decided);
    // Or proa's own probe had its last answer 200 by then, as the sidecar itself logged it.
    const servedProa = (name: string): boolean => {
      const answers = sim.timeline.filter((e) => e.type === 'log' && e.container === name && String(e.line).startsWith('proa-probe '))
        .map((e) => String(e.line).split(' ')).filter((f) => Number(f[2]) <= decided);
      return answers.at(-1)?.[1] === '200';
    };
    const notReady = notReadyIn(before).filter((n) => !servedProa(n));
    if (notReady.length > 0 && !sameMs.some((w) => notReadyIn(w).length === 0)) {
      broken.push(`ready: the command started while ${notReady.join(', ')} was not ready in the last status published before proa decided ` +
        `(rv ${before?.pod.metadata?.resourceVersion}, ${before ? decided - before.wall : '-'}ms before; the command started ${started - decided}ms after)`);
    }
    const flip = writes.find((w) => w.wall >= decided && w.wall <= started && notReadyIn(w).length > 0);
    if (flip) race = `${notReadyIn(flip).join(', ')} turned not ready ${flip.wall - decided}ms after proa decided, ${started - flip.wall}ms before the command started`;
  }

  // 3: the Pod ends (every sidecar here has an endpoint that comes up within the bound).
  if (!ended) {
    const survivors = lines.filter((x) => /is still running after .* the Pod will not complete on its own/.test(String(x.l.msg)));
    broken.push(`pod ends: sidecars still running 5s after proa exited${survivors.length ? ' (named by proa)' : ' (not named by proa)'}`);
  }

  // 4: within the bounds, from the decision to stop to proa's exit.
  const decided = lines.find((x) => /^(command exited|received signal: stopping)/.test(String(x.l.msg)) || stopDecision.test(String(x.l.msg)));
  if (decided) {
    const limit = plan.shutdownTimeoutS * 1000 + 2000 + 1500;
    if (proaExit.t - decided.t > limit) broken.push(`bounded: ${Math.round(proaExit.t - decided.t)}ms from "${decided.l.msg}" to exit, bound ${limit}ms`);
  }

  // 5: the token in no output.
  const all = sim.timeline.filter((e) => e.type === 'log').map((e) => String(e.line)).join('\n');
  for (const t of tokens) if (all.includes(t)) broken.push('token: a service-account token appeared in the output');

  // 6: API load.
  // The watch's requests; the Events' are bounded apart (a burst of 6, then 1 a second: kube/recorder.ts).
  const reqs = sim.timeline.filter((e) => e.type === 'api-request' && e.t <= proaExit.t && !String(e.path).includes('/events')).map((e) => e.t);
  const eventReqs = sim.timeline.filter((e) => e.type === 'api-request' && String(e.path).includes('/events') && e.method !== 'GET');
  // Each may be retried once (5xx, 429), hence twice the rate.
  if (eventReqs.length > 2 * (6 + Math.ceil(proaExit.t / 1000))) broken.push(`api load: ${eventReqs.length} Event requests in ${(proaExit.t / 1000).toFixed(1)}s`);
  const seconds = Math.max(1, proaExit.t / 1000);
  let burst = 0;
  for (let i = 0, j = 0; i < reqs.length; i++) {
    while (reqs[i]! - reqs[j]! > 1000) j++;
    burst = Math.max(burst, i - j + 1);
  }
  if (burst > apiBurstPerSecond) broken.push(`api load: ${burst} requests in one second`);
  if (reqs.length > apiBaseRequests + seconds * apiPerSecond) broken.push(`api load: ${reqs.length} requests in ${seconds.toFixed(1)}s`);

  if (process.env.SOAK_DUMP) {
    const { render } = await import('../testbed/simulator/timeline.ts');
    for (const e of sim.timeline) console.log(render(e) ?? JSON.stringify(e));
    for (const w of writes) console.log(w.wall, w.pod.metadata.resourceVersion, JSON.stringify((w.pod.status.containerStatuses ?? []).map((c: Json) => [c.name, c.ready])));
  }
  await sim.stop();
  return {
    seed, faults: injected.map((f) => f.detail ? `${f.kind}(${f.detail})` : `${f.kind}@${f.at}ms`),
    exitCode: code, broken, race, durationMs: Math.round(performance.now() - started),
  };
}

export async function soak(opts: { jobs: number; seed: number; parallel: number; onJob?: (r: JobResult, done: number) => void }): Promise<SoakReport> {
  const started = performance.now();
  const results: JobResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.jobs) {
      const seed = opts.seed + next++;
      const r = await runJob(seed);
      results.push(r);
      opts.onJob?.(r, results.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallel, opts.jobs) }, worker));
  const faultKinds: Record<string, number> = {};
  for (const r of results) {
    for (const f of r.faults) {
      const kind = f.replace(/[(@].*/, '');
      faultKinds[kind] = (faultKinds[kind] ?? 0) + 1;
    }
  }
  const broken: Record<string, number> = { 'exit code': 0, ready: 0, 'pod ends': 0, bounded: 0, token: 0, 'api load': 0 };
  for (const r of results) {
    for (const b of r.broken) {
      const promise = b.split(':')[0]!;
      broken[promise] = (broken[promise] ?? 0) + 1;
    }
  }
  return {
    jobs: results.length, seed: opts.seed,
    faultsInjected: Object.values(faultKinds).reduce((a, b) => a + b, 0), faultKinds, broken,
    failures: results.filter((r) => r.broken.length > 0).map((r) => ({ seed: r.seed, broken: r.broken, faults: r.faults })),
    races: results.filter((r) => r.race !== undefined).map((r) => ({ seed: r.seed, race: r.race! })),
    durationS: Math.round((performance.now() - started) / 1000),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '200' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      parallel: { type: 'string', default: '6' },
      out: { type: 'string', default: join(root, 'dist', 'soak-results.json') },
    },
  });
  const jobs = Number(values.jobs);
  const report = await soak({
    jobs, seed: Number(values.seed), parallel: Number(values.parallel),
    onJob: (r, done) => {
      const mark = r.broken.length ? `BROKEN ${r.broken.join('; ')}` : r.race ? `ok (race: ${r.race})` : 'ok';
      console.log(`[${done}/${jobs}] seed ${r.seed} exit ${r.exitCode} ${(r.durationMs / 1000).toFixed(1)}s faults: ${r.faults.join(', ') || 'none'} -> ${mark}`);
    },
  });
  writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nsoak: ${report.jobs} Jobs in ${report.durationS}s from seed ${report.seed}; ${report.faultsInjected} faults injected`);
  console.log(`faults: ${Object.entries(report.faultKinds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`promises broken: ${Object.entries(report.broken).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`races (a status published between proa's decision and the command's start; not a break): ${report.races.length}`);
  for (const f of report.failures) console.log(`  replay: npm run soak -- --seed ${f.seed} --jobs 1   (${f.broken.join('; ')})`);
  console.log(`results: ${values.out}`);
  process.exit(report.failures.length === 0 ? 0 : 1);
}
