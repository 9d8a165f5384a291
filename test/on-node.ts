// What the real node's test files share: a Job played in a namespace of its own and
// removed after the test, proa's JSON lines out of a container's log, and the README's
// RBAC and downward-API block to put in a manifest.
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import type { NodeClient } from '../testbed/node/node.ts';
import { documentedRbac } from '../testbed/simulator/kubelet-api.ts';
import { PlayedOnNode } from '../testbed/node/played.ts';

export interface ProaLine { level: string; msg: string; [k: string]: unknown }

export function proaLines(lines: string[]): ProaLine[] {
  return lines.flatMap((l) => {
    try {
      const j = JSON.parse(l) as ProaLine;
      return typeof j.msg === 'string' && typeof j.level === 'string' ? [j] : [];
    } catch {
      return [];
    }
  });
}

/** The Events proa's log says the exit's bound left unposted (an API server slower than that bound). */
export function leftUnposted(lines: string[]): string[] {
  const left = proaLines(lines).find((l) => l.msg.startsWith('Events not posted by exit'))?.events;
  return Array.isArray(left) ? left.map(String) : [];
}

export async function play(t: TestContext, n: NodeClient, text: string, prefix: string): Promise<PlayedOnNode> {
  const p = await PlayedOnNode.play(n, text, prefix);
  t.after(() => p.stop());
  return p;
}

/** The README's ServiceAccount, Role and RoleBinding (examples/job.yaml's last three documents). */
export const rbac = documentedRbac().map((d) => stringify(d)).join('---\n');

/** The README's downward-API block. */
export const downwardEnv = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];
