// The kubelet's probe failures, for a readiness timeout's last lines: the Pod's Unhealthy
// Events (what `kubectl describe pod` shows), the latest for each container proa waited
// for. Read once, bounded, and only a diagnostic: without `list` on events, or with no
// answer in time, proa says where to look instead.
import type { ApiClient } from './client.ts';
import { decodeProbeFailures, type ProbeFailure } from './decode.ts';

/** How long the timeout's report waits for the Events. */
const withinMs = 2_000;

/** The latest probe failure of each of `containers`, or why none could be read. */
export async function lastProbeFailures(client: ApiClient, namespace: string, uid: string, containers: readonly string[]): Promise<Map<string, ProbeFailure> | string> {
  const q = new URLSearchParams({ fieldSelector: `involvedObject.uid=${uid},reason=Unhealthy` });
  const answer = await client.requestWithin('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events?${q}`, withinMs);
  if (!answer) return `the API server did not list the Pod's events within ${withinMs / 1000}s`;
  if (answer.status === 403) return "proa may not list events (add verbs [list] on resource events to its Role to see the kubelet's probe failures here)";
  if (answer.status !== 200) return `the Pod's events could not be listed (${answer.status === 0 ? answer.body : `HTTP ${answer.status}`})`;
  if (answer.cut) return `the Pod's events could not be read whole (${answer.cut})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return "the Pod's events came back as something other than JSON";
  }
  const latest = new Map<string, ProbeFailure>();
  for (const f of decodeProbeFailures(parsed)) {
    if (!containers.includes(f.container)) continue;
    const had = latest.get(f.container);
    if (!had || f.at > had.at) latest.set(f.container, f);
  }
  return latest;
}
