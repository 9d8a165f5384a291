// The examples as the suites play them: each manifest in examples/, what each container
// must have written (the request that stopped it), which containers the kubelet stops,
// and the warnings each example's comments promise. Played by the simulator
// (examples.test.ts) and on the real node (node.test.ts) with the same expectations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { Json } from '../testbed/api/fake-apiserver.ts';
import { root } from '../testbed/paths.ts';

export interface Example {
  file: string;
  /** What the example is played as, when not as written. */
  variant?: string;
  change?: (docs: Json[]) => void;
  /** A line (from the start) each container must have written: the request that stopped it. */
  lines: Record<string, string>;
  /** Containers stopped by the kubelet (native sidecars), not by proa. */
  kubeletStops?: string[];
  /** proa's warnings the example accepts (each said in its comments). */
  warnings?: RegExp[];
  /** Containers ready before the command started. */
  readyFirst?: string[];
  /** The containers that run proa (default: main). */
  proas?: string[];
  /** A line written exactly once. */
  once?: string;
}

const istioRegular = (docs: Json[]): void => {
  docs[0].spec.template.metadata.annotations = { 'sidecar.istio.io/nativeSidecar': 'false' };
};

export const examples: Example[] = [
  // The seed's sidecar takes 30 s to start: proa's first reminder comes at 30 s.
  { file: 'job.yaml', lines: { 'sidecar-1': 'Received /shutdown; shutting down.', main: "We're running." }, warnings: [/^still waiting for the sidecars after 30s/] },
  { file: 'istio.yaml', variant: 'a native sidecar (Istio 1.27+ on Kubernetes 1.29+)', lines: {}, kubeletStops: ['istio-proxy'] },
  { file: 'istio.yaml', variant: 'a regular container (sidecar.istio.io/nativeSidecar: "false")', change: istioRegular, lines: { 'istio-proxy': 'pilot-agent: POST /quitquitquit on :15020' } },
  { file: 'linkerd.yaml', lines: { 'linkerd-proxy': 'linkerd-proxy: POST /shutdown on :4191' } },
  { file: 'cloud-sql-proxy.yaml', lines: { 'cloud-sql-proxy': 'cloud-sql-proxy: POST /quitquitquit on :9091' } },
  // No readiness probe on the agent: the quit request may come before it listens, and is retried.
  // Its warning says what the user can do, as the injector adds the probe-less agent.
  { file: 'vault-agent.yaml', lines: { 'vault-agent': 'vault-agent: POST /agent/v1/quit on :8200' }, warnings: [/^sidecar vault-agent has no readinessProbe: .*--ignore vault-agent is safe/, /^shutdown request failed; retrying$/] },
  { file: 'kill-by-name.yaml', lines: { 'log-shipper': 'fluent-bit: [engine] caught signal (SIGTERM)' } },
  // The proxy is ready 3 s after it has started: proa waits for its readinessProbe by default.
  { file: 'native-sidecar.yaml', lines: {}, kubeletStops: ['cloud-sql-proxy'], readyFirst: ['cloud-sql-proxy'] },
  // Two programs wrapped by proa: the proxy is asked once, after the last one.
  { file: 'two-programs.yaml', lines: { 'cloud-sql-proxy': 'cloud-sql-proxy: POST /quitquitquit on :9091', checksum: 'The checksum runs here' }, proas: ['export', 'checksum'], once: 'cloud-sql-proxy: POST /quitquitquit on :9091' },
  // No token: proa says once that it runs on the endpoints alone.
  { file: 'no-rbac.yaml', lines: { 'cloud-sql-proxy': 'cloud-sql-proxy: POST /quitquitquit on :9091' }, warnings: [/^no Kubernetes API access \(no service-account token/] },
];

export function manifest(e: Example): string {
  const text = readFileSync(join(root, 'examples', e.file), 'utf8');
  if (!e.change) return text;
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  e.change(docs);
  return docs.map((d) => stringify(d)).join('---\n');
}

