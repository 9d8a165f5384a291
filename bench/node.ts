// What only the real node can say (testbed/node/): what proa adds to a Job from
// `kubectl apply` to the Job's Complete condition, against the same work with a native
// sidecar (the kubelet stops it; no proa) and with a polling peer (a shell loop that
// polls the proxy's readiness once a second, as scuttle and linkerd-await do), with the
// sidecar's readinessProbe every second and at the kubelet's default period; from the
// sidecar serving to the program starting, for each; and a
// burst of 30 Jobs at once: the API server's requests (its own apiserver_request_total)
// and CPU time (/proc) until every Job is Complete, with proa's watches and without.
import { readdirSync, readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { RealNode } from '../testbed/node/node.ts';
import { documentedRbac } from '../testbed/simulator/kubelet-api.ts';
import { randomBytes } from 'node:crypto';

const proxyArgs = ['--health-check', '--http-address=0.0.0.0', '--quitquitquit', '--exit-zero-on-sigterm', '--port=5432', 'p:r:i'];
const proxy = { name: 'cloud-sql-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2', args: proxyArgs };
const probe = { readinessProbe: { httpGet: { path: '/readiness', port: 9090 }, periodSeconds: 1 } };
const env = [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }];
const image = 'registry.example/report:3.1';
const work = 'echo the work';

export type Variant = 'proa' | 'proa --ready-by kubelet' | 'proa --events off' | 'native sidecar, no proa' | 'polling peer';
export type Period = 'periodSeconds: 1' | 'the default period (10 s)';
const variants: Variant[] = ['proa', 'proa --ready-by kubelet', 'proa --events off', 'native sidecar, no proa', 'polling peer'];
const periods: Period[] = ['periodSeconds: 1', 'the default period (10 s)'];
/** What Events cost the Job (issue 27: within the run-to-run spread): one period is enough. */
const measured = (v: Variant, period: Period): boolean => v !== 'proa --events off' || period === 'periodSeconds: 1';

/**
 * A sidecar that serves 1.5 s after it starts (examples/sidecar.mjs), as a proxy that
 * loads its configuration first: the readinessProbe's period then decides when the
 * kubelet calls it ready.
 */
const slowProxy = (period: Period): Record<string, unknown> => ({
  // A shell as PID 1 that exits 0 on TERM, as a real proxy does: Node as PID 1 without a
  // handler would ignore the kubelet's TERM and hold a native sidecar's Pod for its grace period.
  name: 'proxy', image: 'node:22', command: ['sh', '-c', 'trap "exit 0" TERM; node /examples/sidecar.mjs & wait'],
  env: [{ name: 'PORT', value: '8080' }, { name: 'STARTUP_SECONDS', value: '1.5' }],
  readinessProbe: { httpGet: { path: '/ready', port: 8080 }, ...(period === 'periodSeconds: 1' ? { periodSeconds: 1 } : {}) },
});

function spec(v: Variant, period: Period): Record<string, unknown> {
  const proxy = slowProxy(period);
  const quit = 'http://127.0.0.1:8080/shutdown';
  switch (v) {
    case 'proa':
    case 'proa --ready-by kubelet':
    case 'proa --events off': {
      const flags = { proa: [], 'proa --ready-by kubelet': ['--ready-by=kubelet'], 'proa --events off': ['--events=off'] }[v];
      return { serviceAccountName: 'proa', containers: [{ name: 'main', image, env, command: ['/usr/local/bin/proa', `--shutdown-http-get=${quit}`, ...flags, '--', 'sh', '-c', work] }, proxy] };
    }
    case 'native sidecar, no proa':
      // A startupProbe on the readiness endpoint, as Kubernetes' documentation has a
      // sidecar the program needs: the kubelet starts the next container once it passes.
      // Without one the program starts at the sidecar's start, before it serves (measured:
      // in 10 of 10 runs the sidecar never served before the Job was done).
      return { initContainers: [{ ...proxy, restartPolicy: 'Always', startupProbe: { ...(proxy.readinessProbe as object), failureThreshold: 30 } }], containers: [{ name: 'main', image, command: ['sh', '-c', work] }] };
    case 'polling peer':
      return { containers: [{ name: 'main', image, command: ['sh', '-c', `until wget -q -O /dev/null http://127.0.0.1:8080/ready; do sleep 1; done; ${work}; wget -q -O /dev/null ${quit}`] }, proxy] };
  }
}

/** The burst's Jobs: the Cloud SQL proxy stand-in, ready at once, probed every second. */
function burstSpec(v: 'proa' | 'native sidecar, no proa'): Record<string, unknown> {
  if (v === 'proa') return { serviceAccountName: 'proa', containers: [{ name: 'main', image, env, command: ['/usr/local/bin/proa', '--shutdown-http-post=http://127.0.0.1:9091/quitquitquit', '--', 'sh', '-c', work] }, { ...proxy, ...probe }] };
  return { initContainers: [{ ...proxy, ...probe, restartPolicy: 'Always' }], containers: [{ name: 'main', image, command: ['sh', '-c', work] }] };
}

/** The README's ServiceAccount, Role and RoleBinding, as examples/job.yaml has them. */
const rbac = documentedRbac();

function jobs(spec: Record<string, unknown>, count: number): string {
  const docs = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `job-${i}` },
    spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 5, ...spec } } },
  }));
  return [...rbac, ...docs].map((d) => stringify(d)).join('---\n');
}

/** Milliseconds from kubectl apply to every Job Complete (kubectl wait, a watch). */
async function applyAndWait(node: RealNode, what: string, spec: Record<string, unknown>, count: number): Promise<{ ms: number; namespace: string }> {
  const namespace = `bench-${randomBytes(3).toString('hex')}`;
  await node.kubectl(['create', 'namespace', namespace]);
  // The ServiceAccount's token controller and kube-root-ca.crt first, outside the timing.
  await node.kubectl(['apply', '-n', namespace, '-f', '-'], rbac.map((d) => stringify(d)).join('---\n'));
  const t0 = performance.now();
  const applied = await node.kubectl(['apply', '-n', namespace, '-f', '-'], jobs(spec, count));
  if (applied.code !== 0) throw new Error(applied.stderr);
  const waited = await node.kubectl(['wait', '-n', namespace, '--for=condition=complete', 'job', '--all', '--timeout=600s']);
  if (waited.code !== 0) throw new Error(`${what}: ${waited.stderr}`);
  return { ms: performance.now() - t0, namespace };
}

/**
 * From the sidecar's first line as a server to the program's line, by the kubelet's log
 * timestamps (negative: the program started before the sidecar served; undefined: the
 * sidecar never served, stopped when the program was done).
 */
async function servingToProgram(node: RealNode, namespace: string): Promise<number | undefined> {
  const pods = await node.kubectl(['get', 'pods', '-n', namespace, '-o', 'jsonpath={.items[0].metadata.name}']);
  const at = async (container: string, line: string): Promise<number> => {
    const r = await node.kubectl(['logs', '--timestamps', '-n', namespace, pods.stdout.trim(), '-c', container]);
    const hit = r.stdout.split('\n').find((l) => l.slice(l.indexOf(' ') + 1).startsWith(line));
    if (!hit) throw new Error(`no "${line}" in ${container}'s log (${r.code}): ${JSON.stringify(r.stdout.slice(-600))} ${r.stderr.slice(-300)}`);
    return Date.parse(hit.slice(0, hit.indexOf(' ')));
  };
  const program = await at('main', 'the work');
  // Stopped before it served (it logged its start, not its serving): no interval.
  if (!(await at('proxy', 'Starting the sidecar on port').then(() => true, () => false)) &&
    await at('proxy', 'Sleeping').then(() => true, () => false)) return undefined;
  return program - (await at('proxy', 'Starting the sidecar on port'));
}

async function requestsServed(node: RealNode): Promise<number> {
  // The metrics page is large and its connection was once cut mid-answer (ECONNRESET,
  // 'aborted'): read again, a few times, before the burst's figures are given up.
  let r: Awaited<ReturnType<RealNode['request']>> | undefined;
  for (let attempt = 1; !r; attempt++) {
    try {
      r = await node.request('GET', '/metrics');
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  let sum = 0;
  for (const m of r.body.matchAll(/^apiserver_request_total\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

function apiserverCpuMs(run: string): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('kube-apiserver') || !cmd.includes(run)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
    } catch { /* gone */ }
  }
  return Number.NaN;
}

export interface NodeFigures {
  startupMs: number;
  jobMs: Record<string, number[]>;
  /** The sidecar's first served line -> the program's, per kind (kubelet timestamps). */
  servingMs: Record<string, number[]>;
  /** Runs in which the sidecar never served: the program was done and the sidecar stopped first (a native sidecar without a startupProbe). */
  neverServed: Record<string, number>;
  burst: Partial<Record<'proa' | 'native sidecar, no proa', { ms: number; requests: number; cpuMs: number }>>;
}

export async function nodeFigures(runs: number, say: (s: string) => void): Promise<NodeFigures> {
  const node = await RealNode.start();
  try {
    const kinds = periods.flatMap((period) => variants.filter((v) => measured(v, period)).map((v) => ({ name: `${v}, ${period}`, spec: spec(v, period) })));
    const jobMs: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k.name, []]));
    const servingMs: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k.name, []]));
    const neverServed: Record<string, number> = Object.fromEntries(kinds.map((k) => [k.name, 0]));
    // The images are pulled once, by a first Job of each kind, outside the figures.
    for (const k of kinds.slice(0, variants.length)) await applyAndWait(node, k.name, k.spec, 1);
    // Interleaved, so that the machine's drift falls on every kind alike.
    for (let i = 0; i < runs; i++) {
      for (const k of kinds) {
        const { ms, namespace } = await applyAndWait(node, k.name, k.spec, 1);
        jobMs[k.name]!.push(ms);
        // One run whose log lacks a line loses that sample, not the whole part: said, with the log.
        try {
          const served = await servingToProgram(node, namespace);
          if (served === undefined) neverServed[k.name]!++;
          else servingMs[k.name]!.push(served);
        } catch (err) {
          say(`${k.name}, run ${i + 1}: serving -> program not measured: ${err instanceof Error ? err.message : String(err)}`);
        }
        await node.kubectl(['delete', 'namespace', namespace, '--wait=false']);
      }
    }
    say(`the real node: one Job each, ${runs} runs: done; a burst of 30 Jobs, with proa and without`);
    const burst: NodeFigures['burst'] = {};
    // The burst failing keeps the Jobs' figures: said, and its rows left out.
    try {
      for (const v of ['proa', 'native sidecar, no proa'] as const) {
        const [r0, c0] = [await requestsServed(node), apiserverCpuMs(node.run)];
        const { ms } = await applyAndWait(node, v, burstSpec(v), 30);
        burst[v] = { ms, requests: (await requestsServed(node)) - r0, cpuMs: apiserverCpuMs(node.run) - c0 };
      }
    } catch (err) {
      say(`the burst failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { startupMs: node.startupMs, jobMs, servingMs, neverServed, burst };
  } finally {
    await node.stop();
  }
}
