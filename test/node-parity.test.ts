// The simulator held to the real node, as test/parity.test.ts holds the fake API server
// to the real one: the same manifests on both, compared as timelines of what proa can
// observe (the Pod's status as published): the order in which containers start, each
// container's sequence of states and readiness, the native sidecar's start before and
// stop after the main container, what an OnFailure restart looks like, how proa finds
// its own container (the termination-log mount), and the Events proa posts. A watch may
// coalesce two quick writes, so the real node's sequence must be a subsequence of the
// simulator's, with the same end; where they differ otherwise, the simulator is wrong.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { play } from '../testbed/backends.ts';
import type { TimelineEvent } from '../testbed/simulator/simulator.ts';
import { nodeFromEnv } from '../testbed/node/node.ts';
import { podNetworksAvailable } from '../testbed/simulator/pod-network.ts';
import { backends } from './e2e.ts';
import { examples, manifest } from './examples.ts';
import { stringify } from 'yaml';
import { downwardEnv, leftUnposted, rbac } from './on-node.ts';

const node = nodeFromEnv();

/** Each container's states, collapsed: `waiting` (whatever the reason), `running`, `ready`, `terminated N`, with restarts as `#N`. */
function sequences(timeline: TimelineEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of timeline.filter((x) => x.type === 'status')) {
    const state = String(e.state).startsWith('waiting') ? 'waiting' : String(e.state);
    const seq = out.get(String(e.container)) ?? [];
    const label = Number(e.restartCount) > 0 ? `${state}#${e.restartCount}` : state;
    if (seq.at(-1) !== label) seq.push(label);
    out.set(String(e.container), seq);
  }
  return out;
}

function isSubsequence(small: string[], big: string[]): boolean {
  let i = 0;
  for (const x of big) if (x === small[i]) i++;
  return i === small.length;
}

/** When each container first left `waiting`. */
function starts(timeline: TimelineEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const x of timeline) if (x.type === 'status' && !String(x.state).startsWith('waiting') && !out.has(String(x.container))) out.set(String(x.container), x.t);
  return out;
}

const firstT = (timeline: TimelineEvent[], container: string, match: (state: string) => boolean): number =>
  timeline.find((x) => x.type === 'status' && x.container === container && match(String(x.state)))?.t ?? Number.NaN;

function foundBy(lines: string[]): string | undefined {
  for (const l of lines) {
    try {
      const j = JSON.parse(l) as { msg?: string; containerRule?: string };
      if (j.msg === 'found the Pod') return j.containerRule;
    } catch { /* not proa's */ }
  }
  return undefined;
}

/** The story without its last steps where either side says its exit bound left them unposted: a timing of that run's API server, not a difference of the two. */
function postedOnBoth(events: string[], leftOut: Set<string>): string[] {
  const out = [...events];
  while (out.length > 0 && leftOut.has(out.at(-1)!.replace(/^\S+ /, ''))) out.pop();
  return out;
}

interface Case { name: string; file?: string; text?: string; native?: string; main?: string }

/**
 * A Job whose main container restarts by a rule of its own (Kubernetes 1.35+): proa's
 * program exits 42 on its first run (state in an emptyDir), then 0.
 */
function ruleJob(name: string, action: 'Restart' | 'RestartAllContainers'): string {
  const main = {
    name: 'main', image: 'registry.example/report:3.1', env: downwardEnv, restartPolicy: 'Never',
    restartPolicyRules: [{ action, exitCodes: { operator: 'In', values: [42] } }],
    command: ['/usr/local/bin/proa', '--shutdown-http-post=http://127.0.0.1:9091/quitquitquit', '--', 'sh', '-c',
      'if [ -e /state/ran ]; then echo second run; exit 0; fi; touch /state/ran; echo first run; exit 42'],
    volumeMounts: [{ name: 'state', mountPath: '/state' }],
  };
  const proxy = {
    name: 'cloud-sql-proxy', image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2',
    args: ['--health-check', '--http-address=0.0.0.0', '--quitquitquit', '--exit-zero-on-sigterm', '--port=5432', 'p:r:i'],
    readinessProbe: { httpGet: { path: '/readiness', port: 9090 }, periodSeconds: 1 },
  };
  return `${stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { backoffLimit: 0, template: { spec: {
    serviceAccountName: 'proa', restartPolicy: 'Never', containers: [main, proxy], volumes: [{ name: 'state', emptyDir: {} }],
    // A restart of every container runs the init containers again first.
    ...(action === 'RestartAllContainers' ? { initContainers: [{ name: 'setup', image: 'registry.example/report:3.1', command: ['sh', '-c', 'echo setup ran'] }] } : {}),
  } } } })}---\n${rbac}`;
}

const cases: Case[] = [
  { name: 'a regular sidecar with a readinessProbe (cloud-sql-proxy.yaml)', file: 'cloud-sql-proxy.yaml' },
  { name: 'a native sidecar with a startupProbe and readinessProbe (native-sidecar.yaml)', file: 'native-sidecar.yaml', native: 'cloud-sql-proxy' },
  { name: 'an injected proxy placed first (linkerd.yaml)', file: 'linkerd.yaml' },
  { name: "Istio's native proxy with its init container (istio.yaml)", file: 'istio.yaml', native: 'istio-proxy' },
  { name: 'a restart rule on the main container (Restart on 42)', text: ruleJob('rule', 'Restart') },
  { name: 'a RestartAllContainers rule on the main container (on 42)', text: ruleJob('all', 'RestartAllContainers') },
];

if (node && backends.includes('real')) {
  for (const c of cases) {
    void test(`parity with the real node: ${c.name}`, { timeout: 180_000, skip: podNetworksAvailable() ? false : 'needs root' }, async (t: TestContext) => {
      const text = c.text ?? manifest(examples.find((e) => e.file === c.file)!);
      // One interface, both back ends: the same calls on each.
      const [onNode, sim] = await Promise.all([play('node', text, { node }), play('real', text)]);
      t.after(() => Promise.all([onNode.stop(), sim.stop()]));
      const [simOutcome, nodeOutcome] = await Promise.all([sim.finished, onNode.finished]);
      assert.equal(simOutcome.phase, nodeOutcome.phase, 'the same phase');
      assert.deepEqual(simOutcome.exitCodes, nodeOutcome.exitCodes, 'the same exit codes');
      const s = sequences(sim.timeline);
      const n = sequences(onNode.timeline);
      t.diagnostic(`simulator: ${[...s].map(([k, v]) => `${k}: ${v.join(' > ')}`).join('; ')}`);
      t.diagnostic(`real node: ${[...n].map(([k, v]) => `${k}: ${v.join(' > ')}`).join('; ')}`);
      assert.deepEqual([...s.keys()].sort(), [...n.keys()].sort(), 'the same containers report a status');
      // A sidecar's `ready` races proa's own probe: proa may start, finish and stop it
      // before the kubelet's next period marks it ready, on either side. Left out.
      const main0 = c.main ?? 'main';
      const unraced = (container: string, seq: string[]): string[] => (container === main0 ? seq : seq.filter((x) => !/^ready(#\d+)?$/.test(x)));
      for (const [container, all] of n) {
        const seq = unraced(container, all);
        s.set(container, unraced(container, s.get(container)!));
        assert.ok(isSubsequence(seq, s.get(container)!), `${container}: the real node's ${seq.join(' > ')} is within the simulator's ${s.get(container)!.join(' > ')}`);
        assert.equal(seq.at(-1), s.get(container)!.at(-1), `${container}: the same end`);
      }
      // One status write may show several containers started at once: only an order the
      // real node shows (a strictly before b) must be the simulator's too.
      const [simStarts, nodeStarts] = [starts(sim.timeline), starts(onNode.timeline)];
      for (const [a, ta] of nodeStarts) {
        for (const [b, tb] of nodeStarts) {
          if (ta < tb) assert.ok(simStarts.get(a)! <= simStarts.get(b)!, `${a} starts before ${b} on the real node, and in the simulator`);
        }
      }
      const main = c.main ?? 'main';
      if (c.native) {
        for (const [who, tl] of [['simulator', sim.timeline], ['real node', onNode.timeline]] as const) {
          // The kubelet starts the next container once a native sidecar has started (its startupProbe), not once it is ready.
          const started = tl.find((x) => x.type === 'status' && x.container === c.native && x.started === true)?.t ?? Number.NaN;
          assert.ok(started <= firstT(tl, main, (x) => !x.startsWith('waiting')), `${who}: ${c.native} started before ${main} starts`);
          assert.ok(firstT(tl, c.native, (x) => x.startsWith('terminated')) >= firstT(tl, main, (x) => x.startsWith('terminated')), `${who}: ${c.native} stops after ${main}`);
        }
      }
      // proa's story as Events: the same steps, in the same order, on both.
      const [simEvents, nodeEvents] = await Promise.all([sim.proaEvents(), onNode.proaEvents()]);
      t.diagnostic(`proa's Events: simulator ${simEvents.join(', ')}; real node ${nodeEvents.join(', ')}`);
      assert.ok(nodeEvents.length > 0, 'proa posted Events on the real node');
      const leftOut = new Set([...leftUnposted(await sim.logs(main)), ...leftUnposted(await onNode.logs(main))]);
      if (leftOut.size > 0) t.diagnostic(`left unposted at exit on one side, compared without: ${[...leftOut].join(', ')}`);
      assert.deepEqual(postedOnBoth(simEvents, leftOut), postedOnBoth(nodeEvents, leftOut), "proa's Events");
      const simRule = foundBy(await sim.logs(main));
      const nodeRule = foundBy(await onNode.logs(main));
      assert.equal(simRule, nodeRule, 'proa finds its own container by the same rule');
    });
  }
}
