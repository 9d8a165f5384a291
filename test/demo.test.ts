// `npm run demo` as a user runs it on a manifest of their own: --exec to rehearse
// `kubectl exec … -- proa check`, the RBAC a manifest forgot, and a Pod that never ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { node, root, tempDir } from '../testbed/paths.ts';
import { Run } from './proa.ts';

const rbac = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: proa}
rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: proa}
subjects: [{kind: ServiceAccount, name: proa}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: proa}
`;

function manifest(main: string, withRbac: boolean): string {
  const file = join(tempDir('demo-'), 'pod.yaml');
  writeFileSync(file, `apiVersion: v1
kind: Pod
metadata: {name: rehearse}
spec:
  restartPolicy: Never
  serviceAccountName: proa
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: app
    command: ${main}
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
  - name: proxy
    image: node:22
    command: [node, examples/sidecar.mjs]
    env: [{name: PORT, value: "18081"}, {name: STARTUP_SECONDS, value: "0.3"}]
    readinessProbe: {httpGet: {port: 18081}, periodSeconds: 1}
${withRbac ? rbac : ''}`);
  return file;
}

const demo = (args: string[], env: Record<string, string> = {}): Run =>
  new Run(node, [join(root, 'testbed', 'demo.ts'), ...args], { PATH: process.env.PATH ?? '', ...env });

async function line(run: Run, text: string): Promise<void> {
  while (!run.stdout.includes(text)) {
    const more = await new Promise<boolean>((resolve) => {
      run.child.stdout!.once('data', () => resolve(true));
      void run.exited.then(() => resolve(false));
    });
    if (!more && !run.stdout.includes(text)) throw new Error(`the demo ended without printing ${JSON.stringify(text)}:\n${run.stdout}\n${run.text.join('\n')}`);
  }
}

test('npm run demo -- FILE --exec main -- proa check: the check runs in the container, with PID 1\'s options', { timeout: 90_000 }, async () => {
  const file = manifest('[dist/proa-linux-x64, "--shutdown-http-get=http://localhost:18081/shutdown", --, sleep, "1"]', true);
  const run = demo([file, '--exec', 'main', '--', 'proa', 'check']);
  assert.equal((await run.exited).code, 0, run.stdout + run.text.join('\n'));
  assert.match(run.stdout, /kubectl exec +-c main -- proa check/);
  assert.match(run.stdout, /exec main +proa check, with options and environment of PID 1 \(--shutdown-http-get http:\/\/localhost:18081\/shutdown/);
  assert.match(run.stdout, /kubectl exec +exited with code 0/);
  assert.match(run.stdout, /Job complete\./);
});

test('npm run demo on a manifest without RBAC: proa is refused as in a cluster, said up front; --supply-rbac supplies it', { timeout: 90_000 }, async () => {
  const file = manifest('[dist/proa-linux-x64, "--ready-timeout=2s", "--shutdown-http-get=http://localhost:18081/shutdown", --, "true"]', false);
  const refused = demo([file]);
  await refused.exited;
  assert.match(refused.stdout, /The manifest grants proa no Role and RoleBinding: proa will be refused \(403\), as in a cluster\. --supply-rbac applies the README's\./);
  assert.match(refused.stdout, /forbidden \(cannot watch\)/);
  assert.match(refused.stdout, /Job failed\./);
  const supplied = demo([file, '--supply-rbac']);
  assert.equal((await supplied.exited).code, 0, supplied.stdout);
  assert.match(supplied.stdout, /Job complete\./);
});

test('npm run demo on a Pod that never ends: a hint once the Pod has not changed for a while, its output notwithstanding; Ctrl-C deletes the Pod', { timeout: 90_000 }, async () => {
  // A program that never ends and writes a line five times a second, as a sidecar logging each probe does.
  const file = manifest('[sh, -c, "while true; do echo still working; sleep 0.2; done"]', true);
  const run = demo([file], { PROA_DEMO_QUIET_MS: '1500' });
  await line(run, 'the Pod has not changed for 1.5s: it is still running. Ctrl-C deletes it');
  run.signal('SIGINT');
  await run.exited;
  assert.match(run.stdout, /Pod deleted: phase/);
});
