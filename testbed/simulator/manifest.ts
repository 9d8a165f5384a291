// What the Pod simulator plays from a manifest: a Pod, or one Pod of a Job or a CronJob's
// jobTemplate; the ConfigMaps its volumes name; the Roles and RoleBindings the real API
// server gets. What it does not play is said, not dropped silently.
import { randomBytes, randomUUID } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { Json } from '../api/fake-apiserver.ts';

/** Reads the manifest (YAML or JSON; a Pod, or a Job's Pod template) into a Pod. */
export function podFromManifest(text: string): { pod: Json; notes: string[]; configMaps: Json[]; rbac: Json[]; jobDeadlineSeconds: number | undefined } {
  const parsed = parseAllDocuments(text);
  // What kubectl refuses, the simulator refuses: duplicate keys, bad YAML.
  for (const d of parsed) {
    const first = d.errors[0];
    if (first) throw new Error(`the manifest is not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const docs = parsed.map((d) => d.toJS() as Json).filter(Boolean);
  const notes: string[] = [];
  const found = docs.find((d) => d.kind === 'Pod' || d.kind === 'Job' || d.kind === 'CronJob');
  if (!found) throw new Error('the manifest has no Pod, Job or CronJob');
  // ConfigMaps become the Pod's configMap volumes; the rest is not played.
  // Roles, ClusterRoles and their bindings grant the Pod's service account what they
  // grant it on either API server (ServiceAccounts are made for the Pod).
  const configMaps = docs.filter((d) => d.kind === 'ConfigMap');
  const rbacKinds = ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
  const rbac = docs.filter((d) => rbacKinds.includes(d.kind));
  for (const d of docs) {
    if (d !== found && !['ConfigMap', 'ServiceAccount', ...rbacKinds].includes(d.kind)) notes.push(`${d.kind} ${d.metadata?.name ?? ''}: not simulated (only the Pod runs)`);
  }
  if (found.kind === 'Pod') return { pod: structuredClone(found), notes, configMaps, rbac, jobDeadlineSeconds: undefined };
  // A CronJob plays one run of its jobTemplate.
  const doc = found.kind === 'CronJob'
    ? { ...found.spec?.jobTemplate, metadata: { ...found.spec?.jobTemplate?.metadata, name: `${found.metadata?.name ?? 'cronjob'}-${Math.floor(Date.now() / 60_000)}` } }
    : found;
  if (found.kind === 'CronJob') {
    notes.push(`CronJob ${found.metadata?.name}: one run of its jobTemplate is played (schedule ${found.spec?.schedule})`);
    for (const key of Object.keys(found.spec ?? {})) {
      if (key !== 'jobTemplate' && key !== 'schedule') notes.push(`CronJob spec.${key}: not simulated (no CronJob controller: one run is played)`);
    }
  }
  // The Job's own fields are the Job controller's, which is not simulated: say so.
  // activeDeadlineSeconds is played (the Job controller deletes the Pod when it passes).
  for (const key of Object.keys(doc.spec ?? {})) {
    if (key !== 'template' && key !== 'activeDeadlineSeconds') notes.push(`Job spec.${key}: not simulated (no Job controller: one Pod runs once)`);
  }
  const deadline = doc.spec?.activeDeadlineSeconds;
  const template = doc.spec?.template ?? {};
  const jobName = doc.metadata?.name ?? 'job';
  return {
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${jobName}-${randomBytes(3).toString('hex').slice(0, 5)}`,
        namespace: doc.metadata?.namespace ?? 'default',
        labels: { ...(template.metadata?.labels ?? {}), 'job-name': jobName, 'batch.kubernetes.io/job-name': jobName },
        ...(template.metadata?.annotations ? { annotations: structuredClone(template.metadata.annotations) } : {}),
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(template.spec ?? {}),
    },
    notes,
    configMaps,
    rbac,
    jobDeadlineSeconds: typeof deadline === 'number' && deadline > 0 ? deadline : undefined,
  };
}
