// Property and fuzz tests of proa's boundaries, bounded to stay fast in CI (fast-check,
// fixed seeds so that a failure reproduces; PROA_FUZZ_RUNS scales them up for a long
// hunt): any JSON, and the reference Pods mutated at random, through the Pod boundary
// and every Pod rule; watch streams split at random byte offsets, truncated, with
// garbage and over-long lines, through the watch itself; random flags and environment
// through the parser and the built binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { decodePod } from '../src/kube/decode.ts';
import { PodWatch, type WatchEvent } from '../src/kube/watch.ts';
import { ApiClient } from '../src/kube/client.ts';
import { Lines, LineTooLong } from '../src/kube/lines.ts';
import { describe, exitBaseline, exits, readiness } from '../src/pod/status.ts';
import { plan } from '../src/pod/plan.ts';
import { restartAfter } from '../src/pod/restarts.ts';
import { statusOf, type Pod } from '../src/shared/pod.ts';
import { whatBlocks, reminderMessage } from '../src/sidecars/reminders.ts';
import { recognise } from '../src/pod/known.ts';
import { autoActions } from '../src/pod/auto.ts';
import { parseCli, UsageError, type Config } from '../src/cli/cli.ts';
import { options, envName } from '../src/cli/options.ts';
import { createLogger } from '../src/shared/log.ts';
import { binary, root } from '../testbed/paths.ts';
import { Run } from './proa.ts';

const scale = Number(process.env.PROA_FUZZ_RUNS ?? 1);
const runs = (n: number): fc.Parameters<unknown> => ({ numRuns: Math.max(1, Math.round(n * scale)), seed: 20261129 + n });
const lines: string[] = [];
const log = createLogger('json', 'debug', (l) => void lines.push(l));
const fixtures = readdirSync(join(root, 'test', 'fixtures')).filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(root, 'test', 'fixtures', f), 'utf8')) as unknown);
const baseConfig = (parseCli(['--shutdown-auto', '--', 'true'], {}) as { config: Config }).config;

/** Every rule proa applies to a Pod, on this one: none may throw. */
function everyRule(pod: Pod): void {
  for (const input of [{ waitFor: [], ignore: [] }, { waitFor: ['istio-proxy'], ignore: [] }, { container: { value: 'main', source: 'x' }, waitFor: [], ignore: ['x'], killAll: true }]) {
    const p = plan(pod, input);
    const effective = 'error' in p ? p.fallback : p;
    readiness(pod, effective);
    for (const s of effective.awaited) describe(statusOf(pod, s.name, s.native));
    const base = exitBaseline(pod, effective);
    exits(pod, effective, base);
    reminderMessage(1000, whatBlocks(pod, p, 'x'), pod.metadata?.name);
    if (!('error' in p)) autoActions(pod, p, baseConfig, log);
  }
  recognise(pod, undefined);
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) for (const code of [0, 1, 42, 143]) restartAfter(pod, c.name, code);
  log.info('a pod', { pod });
}

test('any JSON value through the Pod boundary and every Pod rule: no throw, every field typed', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
    const { pod } = decodePod(value);
    everyRule(pod);
  }), runs(400));
});

/** A JSON document with one value somewhere replaced by another of any type, or removed. */
const mutated = fc.tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined })), { minLength: 1, maxLength: 6 }))
  .map(([doc, changes]) => {
    const copy = structuredClone(doc) as Record<string, unknown>;
    for (const [at, value] of changes) {
      const places: [Record<string, unknown> | unknown[], string | number][] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach((x, i) => { places.push([v, i]); walk(x); });
        else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) { places.push([v as Record<string, unknown>, k]); walk(x); }
      };
      walk(copy);
      const [parent, key] = places[at % places.length]!;
      if (value === undefined && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
      else (parent as Record<string | number, unknown>)[key] = value ?? null;
    }
    return copy;
  });

test('the reference Pods mutated at random: the boundary names what it drops, and the rules hold', () => {
  fc.assert(fc.property(mutated, (doc) => {
    const { pod, problems } = decodePod(doc);
    for (const p of problems) assert.equal(typeof p, 'string');
    everyRule(pod);
    for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
      assert.ok(s.ready === undefined || typeof s.ready === 'boolean');
      assert.ok(s.restartCount === undefined || Number.isSafeInteger(s.restartCount));
    }
  }), runs(300));
});

test('restartPolicyRules of any shape through the boundary: typed rules or a named problem, never a throw; the API\'s caps hold', () => {
  const rule = fc.oneof(
    fc.record({ action: fc.constantFrom('Restart', 'RestartAllContainers', 'Other'), exitCodes: fc.record({ operator: fc.constantFrom('In', 'NotIn', 'Maybe'), values: fc.array(fc.integer({ min: -5, max: 300 }), { maxLength: 300 }) }) }),
    fc.jsonValue({ maxDepth: 3 }),
  );
  fc.assert(fc.property(fc.oneof(fc.array(rule, { maxLength: 25 }), fc.jsonValue({ maxDepth: 3 })), (rules) => {
    const { pod, problems } = decodePod({ spec: { restartPolicy: 'Never', containers: [{ name: 'main', restartPolicy: 'Never', restartPolicyRules: rules }, { name: 'proxy' }] } });
    for (const p of problems) assert.equal(typeof p, 'string');
    const read = pod.spec?.containers?.[0]?.restartPolicyRules ?? [];
    assert.ok(read.length <= 20);
    for (const r of read) {
      assert.equal(typeof r.action, 'string');
      assert.equal(typeof r.operator, 'string');
      assert.ok(r.values.length <= 255 && r.values.every((v) => Number.isSafeInteger(v)));
    }
    if (Array.isArray(rules) && rules.length > 20) assert.ok(problems.some((p) => /more than the API's 20/.test(p)));
    everyRule(pod);
  }), runs(300));
});

test('lines: any split of a stream gives back its lines; a line past the cap is refused, and the rest is not held', () => {
  fc.assert(fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, '')), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (texts, cuts) => {
    const bytes = Buffer.from(texts.map((t) => `${t}\n`).join(''));
    const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
    const l = new Lines(1024);
    const got: string[] = [];
    let from = 0;
    for (const p of [...points, bytes.length]) {
      got.push(...l.push(bytes.subarray(from, p)));
      from = p;
    }
    assert.deepEqual(got, texts.map((t) => Buffer.from(t).toString('utf8')));
    assert.equal(l.end(), '');
  }), runs(300));
  const l = new Lines(1000);
  assert.deepEqual(l.push(Buffer.from('ok\n' + 'x'.repeat(600))), ['ok']);
  assert.throws(() => l.push(Buffer.alloc(600, 'y')), LineTooLong);
  assert.deepEqual(l.push(Buffer.from('next\n')), ['next'], 'after a refused line, the stream reads afresh');
});

/** A client whose first watch streams `chunks`, and whose later ones stay open and silent. */
function scriptedClient(chunks: () => Iterable<Buffer>): { client: ApiClient; consumed: Promise<void> } {
  let first = true;
  let done!: () => void;
  const consumed = new Promise<void>((resolve) => (done = resolve));
  const client = Object.create(ApiClient.prototype) as ApiClient;
  Object.defineProperty(client, 'stream', {
    value: (_path: string, signal: AbortSignal) => {
      const r = first ? Readable.from(chunks(), { objectMode: false }) : new Readable({ read() {} });
      if (first) r.once('close', done);
      first = false;
      signal.addEventListener('abort', () => r.destroy(), { once: true });
      return Promise.resolve(r);
    },
  });
  Object.defineProperty(client, 'serviceAccount', { value: () => undefined });
  return { client, consumed };
}

const event = fc.oneof(
  mutated.map((o) => JSON.stringify({ type: 'MODIFIED', object: o })),
  fc.constantFrom(...fixtures).map((o) => JSON.stringify({ type: 'ADDED', object: o })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.record({ type: fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR', 'SYNC', 7), object: fc.jsonValue({ maxDepth: 3 }) }).map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

test('watch streams: random events split at random bytes, truncated or garbled, through the watch: no throw', async () => {
  await fc.assert(fc.asyncProperty(fc.array(event, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), async (events, cuts, truncate) => {
    let bytes = Buffer.from(events.map((e) => `${e}\n`).join(''));
    if (truncate && bytes.length > 1) bytes = bytes.subarray(0, cuts[0] === undefined ? bytes.length - 1 : cuts[0] % bytes.length);
    const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
    const pieces = [...points, bytes.length].map((p, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1]!, p));
    const { client, consumed } = scriptedClient(() => pieces);
    const seen: WatchEvent[] = [];
    const watch = new PodWatch(client, { pod: { value: 'p', source: 't' }, namespace: { value: 'n', source: 't' }, timeoutSeconds: 50 }, log, (e) => {
      seen.push(e);
      if (e.type !== 'caught-up') everyRule(e.pod);
    });
    watch.start();
    await consumed;
    await new Promise((resolve) => setImmediate(resolve));
    await watch.stop();
  }), runs(150));
});

test('a watch line that never ends holds at most the 8 MiB cap', async () => {
  let peak = 0;
  const base = process.memoryUsage().arrayBuffers;
  // One chunk, sent again and again: what grows is what the watch keeps.
  const chunk = Buffer.alloc(64 * 1024, 'z');
  function* endless(): Iterable<Buffer> {
    for (let i = 0; i < 512; i++) {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      yield chunk;
    }
  }
  const { client, consumed } = scriptedClient(endless);
  const problems: string[] = [];
  const watch = new PodWatch(client, { pod: { value: 'p', source: 't' }, namespace: { value: 'n', source: 't' }, timeoutSeconds: 50 },
    createLogger('json', 'debug', (l) => void problems.push(l)), () => {});
  watch.start();
  await consumed;
  await watch.stop();
  assert.ok(problems.some((l) => l.includes('longer than 8388608 bytes')), problems.join(''));
  assert.ok(peak < 12 * 1024 * 1024, `held ${(peak / 1048576).toFixed(1)} MiB`);
});

// --- the command line ------------------------------------------------------------------

const flagNames = options.map((o) => `--${o.long}`);
const value = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('5s', '0', '600h', '2147483648ms', '1m30s', '-1', 'TERM', 'RTMIN+3', 'json', 'text', 'http://127.0.0.1:1/quit',
    'http://admin:hunter2@127.0.0.1:1/q', 'http://admin:hunter2@10.0.0.1:1/q', 'http://a:b%zz@127.0.0.1:1/', 'https://[::1]:1/x', 'main', 'a,b', ''),
);
const argvArb = fc.array(fc.oneof(fc.constantFrom(...flagNames, '-g', '-p', '-k', '-K', '-gK', '-h', '-V', '--', '--bogus'), value), { maxLength: 8 });
const envArb = fc.dictionary(fc.constantFrom(...options.map((o) => envName(o.long)), 'PROA_LOG', 'PROA_DISABLED', 'RUST_LOG'), value, { maxKeys: 4 });

test('random flags and environment through the parser: an Invocation, or one line of UsageError without credentials', () => {
  fc.assert(fc.property(argvArb, envArb, (argv, env) => {
    try {
      parseCli([...argv, '--', 'true'], env);
    } catch (err) {
      assert.ok(err instanceof UsageError, `not a usage error: ${String(err)}`);
      assert.ok(!err.message.includes('\n'), err.message);
      assert.ok(!err.message.includes('hunter2') && !err.message.includes('%zz'), err.message);
    }
  }), runs(1500));
});

const netns = ((): boolean => {
  try {
    execFileSync('unshare', ['--net', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('random flags and environment through the binary: exit 2 with one line, or a normal run; never 70, never a stack', netns ? {} : { skip: 'unshare --net needs root' }, async () => {
  // In a network namespace of its own: a shutdown request can go nowhere. Without
  // --kill-all and with kill names no process has: nothing on this machine is signalled.
  const safe = (a: string): boolean => !/^-[a-zA-Z]*K|^--kill-all$/.test(a);
  const samples = fc.sample(fc.tuple(argvArb.map((a) => a.filter(safe)), envArb.map((e) => { delete e.PROA_KILL_ALL; delete e.PROA_KILL; return e; })), { numRuns: Math.round(24 * scale), seed: 20261129 });
  for (const [argv, env] of samples) {
    const args = [...argv.map((a) => (a === '-k' || a === '--kill' ? `${a}=proa-fuzz-no-such-process` : a)), '--shutdown-timeout', '0', '--no-wait', '--', 'true'];
    const run = new Run('unshare', ['--net', binary, ...args], { PATH: process.env.PATH ?? '', ...env });
    const { code } = await run.exited;
    const all = [...run.text, run.stdout].join('\n');
    assert.ok(code !== 70 && !/\n\s+at /.test(all), `${JSON.stringify([args, env])}: exit ${code}\n${all}\n${run.dump()}`);
    if (code === 2 && run.lines.length === 0) assert.equal(run.text.length, 1, `${JSON.stringify([args, env])}: ${run.text.join('\n')}`);
    assert.ok(!all.includes('hunter2') && !run.dump().includes('hunter2'), all);
  }
});
