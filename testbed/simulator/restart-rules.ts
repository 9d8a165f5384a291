// The kubelet's restart decision for one exited container, as Kubernetes 1.37 makes it
// (pkg/api/v1/pod/util.go: ContainerShouldRestart, FindMatchingContainerRestartRule;
// pkg/kubelet/container/helpers.go: ShouldAllContainersRestart). Written apart from
// proa's own src/pod/restarts.ts on purpose: the simulator stands in for the kubelet, and a
// stand-in that shared proa's reading could never catch proa misreading it. The node
// parity suite holds both to the real kubelet.
import type { Json } from '../api/fake-apiserver.ts';

export type KubeletRestart = 'no' | 'restart' | 'restart-all';

/** The first rule whose exit codes match, if any (an exitCodes-less rule never matches). */
function matchingRule(c: Json, exitCode: number): Json | undefined {
  for (const rule of (c.restartPolicyRules ?? []) as Json[]) {
    const codes = rule.exitCodes as Json | undefined;
    if (!codes) continue;
    const listed = ((codes.values ?? []) as number[]).includes(exitCode);
    if ((codes.operator === 'In' && listed) || (codes.operator === 'NotIn' && !listed)) return rule;
  }
  return undefined;
}

export function kubeletRestart(podPolicy: string, c: Json, exitCode: number): KubeletRestart {
  const own = c.restartPolicy as string | undefined;
  if (own !== undefined) {
    const rule = matchingRule(c, exitCode);
    if (rule?.action === 'RestartAllContainers') return 'restart-all';
    if (rule?.action === 'Restart') return 'restart';
    if (own === 'Always') return 'restart';
    if (own === 'OnFailure') return exitCode !== 0 ? 'restart' : 'no';
    if (own === 'Never') return 'no';
  }
  if (podPolicy === 'Never') return 'no';
  if (podPolicy === 'OnFailure') return exitCode !== 0 ? 'restart' : 'no';
  return 'restart';
}
