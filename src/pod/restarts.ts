// Will the kubelet start this container again after it exits with this code, and how?
// One rule, the kubelet's own (pkg/api/v1/pod/util.go ContainerShouldRestart and
// FindMatchingContainerRestartRule, Kubernetes 1.35+ with ContainerRestartRules on by
// default, RestartAllContainers since 1.36):
// - a container that sets its own `restartPolicy` has its `restartPolicyRules` read in
//   order, the first whose exit codes match wins (In: the code is listed; NotIn: it is
//   not); `Restart` restarts the container in place, `RestartAllContainers` kills every
//   container of the Pod at once (no grace period) and starts them all again, init
//   containers first;
// - no rule matched: the container's own `restartPolicy` (Always; OnFailure: a non-zero
//   code; Never);
// - no `restartPolicy` of its own (rules are then ignored, as the API refuses them): the
//   Pod's (absent: Always).
// A native sidecar (init container, restartPolicy Always) restarts whatever the code,
// unless one of its rules says RestartAllContainers.

import { specOf, type Pod, type RestartRule } from '../shared/pod.ts';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** The fields of a container that decide its restart. */
export interface RestartFields {
  restartPolicy?: string | undefined;
  restartPolicyRules?: RestartRule[] | undefined;
}

export type RestartAction = 'none' | 'restart' | 'restart-all';

export interface RestartDecision {
  action: RestartAction;
  /** Which part of the spec decided, for the log: `restartPolicyRules[0] (Restart on exit codes In [42])`, `restartPolicy OnFailure`. */
  by: string;
  /** The decision came from the container's own fields, not the Pod's policy. */
  own: boolean;
}

/** The Pod's `restartPolicy` as the kubelet reads it: absent or unknown is Always. */
export function podRestartPolicy(p: string | undefined): RestartPolicy {
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

const describeRule = (r: RestartRule, i: number): string => `restartPolicyRules[${i}] (${r.action} on exit codes ${r.operator} [${r.values.join(', ')}])`;

function matches(r: RestartRule, code: number): boolean {
  const listed = r.values.includes(code);
  return (r.operator === 'In' && listed) || (r.operator === 'NotIn' && !listed);
}

const byPolicy = (policy: string, code: number): RestartAction =>
  policy === 'Always' || (policy === 'OnFailure' && code !== 0) ? 'restart' : 'none';

/** What the kubelet does when a container (`spec`) of a Pod whose restartPolicy is `podPolicy` exits with `code`. */
function afterExit(podPolicy: string | undefined, spec: RestartFields | undefined, code: number): RestartDecision {
  const own = spec?.restartPolicy;
  if (own === 'Always' || own === 'OnFailure' || own === 'Never') {
    const rules = spec?.restartPolicyRules ?? [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (!matches(r, code)) continue;
      if (r.action === 'Restart') return { action: 'restart', by: describeRule(r, i), own: true };
      if (r.action === 'RestartAllContainers') return { action: 'restart-all', by: describeRule(r, i), own: true };
      // An action this version does not know: the kubelet goes on to the container's policy.
      break;
    }
    return { action: byPolicy(own, code), by: `its restartPolicy ${own}`, own: true };
  }
  const pod = podRestartPolicy(podPolicy);
  return { action: byPolicy(pod, code), by: `the Pod's restartPolicy ${pod}`, own: false };
}

/** A container's restart fields in one phrase, for the log: what decides whether it runs again. */
export function describeRestart(podPolicy: string | undefined, spec: RestartFields | undefined): string {
  const own = spec?.restartPolicy;
  if (own !== 'Always' && own !== 'OnFailure' && own !== 'Never') return `the Pod's restartPolicy ${podRestartPolicy(podPolicy)}`;
  const rules = (spec?.restartPolicyRules ?? []).map((r, i) => describeRule(r, i));
  return rules.length > 0 ? `${rules.join(', ')}, else its restartPolicy ${own}` : `its restartPolicy ${own}`;
}

/** What the kubelet does when container `name` exits with `code`. */
export function restartAfter(pod: Pod, name: string, code: number): RestartDecision {
  return afterExit(pod.spec?.restartPolicy, specOf(pod, name), code);
}

export const willRestart = (pod: Pod, name: string, code: number): boolean => restartAfter(pod, name, code).action !== 'none';

/** The kubelet is restarting every container of the Pod (a RestartAllContainers rule fired). */
export function restartingAll(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'AllContainersRestarting' && c.status === 'True');
}
