// The Pod simulator's reading of manifests: what it plays, and what it says it does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podFromManifest } from './manifest.ts';

test('a CronJob plays one run of its jobTemplate; the Job controller\'s fields are named as not simulated', () => {
  const { pod, notes } = podFromManifest(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 600
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: app, command: ["true"]}]
`);
  assert.equal(pod.kind, 'Pod');
  assert.match(pod.metadata.name, /^nightly-\d+-[0-9a-f]{5}$/);
  assert.equal(pod.spec.containers[0].name, 'main');
  assert.ok(pod.metadata.ownerReferences[0].uid, 'an owner reference carries a uid, as strict clients require');
  assert.ok(notes.some((n) => /CronJob nightly: one run of its jobTemplate/.test(n)));
  assert.ok(notes.includes('Job spec.backoffLimit: not simulated (no Job controller: one Pod runs once)'));
  assert.ok(notes.includes('Job spec.activeDeadlineSeconds: not simulated (no Job controller: one Pod runs once)'));
});

test('a manifest without a Pod, Job or CronJob is refused with one line', () => {
  assert.throws(() => podFromManifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'), /the manifest has no Pod, Job or CronJob/);
});
