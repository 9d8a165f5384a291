// One interface to every back end the test bed has, for what a manifest does when it is
// applied: `play(backend, manifest)`.
//   fake  the fake API server + the Pod simulator: fast, injects faults
//   real  kube-apiserver and etcd + the Pod simulator: the API's authority
//   node  the real node (kubelet, containerd, runc): the kubelet's authority
// Every one gives the same timeline (TimelineEvent: statuses, phases, deletion; the
// simulator also its own kubelet's doings), the same outcome, each container's log
// lines, `kubectl exec`, a deletion, and a stop. The simulator keeps its richer surface
// (fault injection, recorded requests) for the suites that need it (test/e2e.ts).
import { runtime, execArgv } from './images/runtime.ts';
import type { NodeClient } from './node/node.ts';
import { PlayedOnNode } from './node/played.ts';
import { Simulator, type TimelineEvent } from './simulator/simulator.ts';
import { podNetworksAvailable } from './simulator/pod-network.ts';
import { admit } from './webhooks/injectors.ts';

export type Backend = 'fake' | 'real' | 'node';

export interface Outcome {
  phase: string;
  /** Each container's last exit code (init containers included); none for one that never ended. */
  exitCodes: Record<string, number | undefined>;
  /** The Pod was deleted before it ended. */
  deleted: boolean;
}

export interface Played {
  readonly backend: Backend;
  readonly timeline: TimelineEvent[];
  readonly finished: Promise<Outcome>;
  waitFor(match: (e: TimelineEvent) => boolean): Promise<TimelineEvent>;
  /** A container's output, one line each (stdout and stderr, as `kubectl logs` gives them). */
  logs(container: string): Promise<string[]>;
  exec(container: string, argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The Events proa posted on its Pod, oldest first, as `TYPE Reason`. */
  proaEvents(): Promise<string[]>;
  deletePod(): Promise<void>;
  stop(): Promise<void>;
}

export interface PlayOptions {
  /** The running node (`node` only). */
  node?: NodeClient;
  /** Each timeline event as it happens. */
  echo?: (e: TimelineEvent) => void;
}

/** Applies `manifest` (YAML: a Pod or a Job with what it needs) on `backend`, as a cluster with the examples' injectors and images would. */
export async function play(backend: Backend, manifest: string, opts: PlayOptions = {}): Promise<Played> {
  if (backend === 'node') {
    if (!opts.node) throw new Error('play on the real node needs the running node (PROA_REAL_NODE)');
    const p = await PlayedOnNode.play(opts.node, manifest, 'play', opts.echo);
    return {
      backend, timeline: p.timeline, finished: p.finished, waitFor: (m) => p.waitFor(m),
      logs: (c) => p.logs(c), exec: (c, argv) => p.exec(c, argv), proaEvents: () => p.proaEvents(), deletePod: async () => void await p.deletePod(), stop: () => p.stop(),
    };
  }
  const sim = await Simulator.start(manifest, {
    api: backend, runtime, admission: admit, network: podNetworksAvailable() ? 'pod' : 'host', ...(opts.echo ? { echo: opts.echo } : {}),
  });
  const lines = (container: string): string[] => sim.timeline.filter((e) => e.type === 'log' && e.container === container).map((e) => String(e.line));
  return {
    backend, timeline: sim.timeline, finished: sim.finished, waitFor: (m) => sim.waitFor(m),
    logs: async (c) => lines(c),
    proaEvents: () => sim.api.proaEvents(),
    async exec(c, argv) {
      const from = sim.timeline.length;
      const exit = await sim.exec(c, execArgv(argv), argv);
      const out = (stream: string): string => sim.timeline.slice(from).filter((e) => e.type === 'exec-output' && e.container === c && e.stream === stream)
        .map((e) => `${String(e.line)}\n`).join('');
      return { code: exit.code, stdout: out('stdout'), stderr: out('stderr') };
    },
    deletePod: async () => sim.delete(),
    stop: () => sim.stop(),
  };
}
