// The Pod simulator's reading of manifests: what it plays, and what it says it does not.
import { test } from 'node:test';
import { play } from '../testbed/backends.ts';
import assert from 'node:assert/strict';
import { podFromManifest } from '../testbed/simulator/manifest.ts';
import { Simulator } from '../testbed/simulator/simulator.ts';
import { binary } from '../testbed/paths.ts';
import type { Json } from '../testbed/api/fake-apiserver.ts';

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
  assert.ok(!notes.some((n) => /activeDeadlineSeconds/.test(n)), 'the Job\'s deadline is played');
});

test('a manifest without a Pod, Job or CronJob is refused with one line', () => {
  assert.throws(() => podFromManifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'), /the manifest has no Pod, Job or CronJob/);
});

test('a manifest with a duplicate key is refused, as kubectl refuses it', () => {
  assert.throws(() => podFromManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: []\n  containers: []\n'), /not valid YAML: Map keys must be unique/);
});

test('a Job\'s activeDeadlineSeconds is played (the Job controller deletes the Pod); the Pod\'s by the kubelet (DeadlineExceeded)', async (t) => {
  const job = await Simulator.start(`
apiVersion: batch/v1
kind: Job
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 1
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: main, image: app, command: ["sleep", "300"]}]
`);
  t.after(() => job.stop());
  const jobOutcome = await job.finished;
  assert.equal(jobOutcome.deleted, true);
  assert.ok(job.timeline.some((e) => e.type === 'note' && /Job's activeDeadlineSeconds \(1s\) passed/.test(String(e.note))));
  const pod = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-deadline' },
    spec: { restartPolicy: 'Always', activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'app', command: ['sleep', '300'] }] },
  });
  t.after(() => pod.stop());
  const outcome = await pod.finished;
  assert.equal(outcome.phase, 'Failed');
  assert.equal(outcome.restarts.main, 0, 'not restarted after the deadline');
  assert.ok(pod.timeline.some((e) => e.type === 'note' && /the Pod's activeDeadlineSeconds \(1s\) passed/.test(String(e.note))));
});

test('a configMap volume whose ConfigMap is missing keeps every container from starting, said once', async (t) => {
  const sim = await Simulator.start(`
apiVersion: v1
kind: Pod
metadata: {name: no-cm}
spec:
  containers: [{name: main, image: app, command: ["true"], volumeMounts: [{name: cfg, mountPath: /cfg}]}]
  volumes: [{name: cfg, configMap: {name: absent}}, {name: opt, configMap: {name: absent-too, optional: true}}]
`);
  t.after(() => sim.stop());
  const notes = sim.timeline.filter((e) => e.type === 'note' && /MountVolume\.SetUp failed/.test(String(e.note)));
  assert.equal(notes.length, 1);
  assert.match(String(notes[0]!.note), /volume "cfg": configmap "absent" not found/);
  assert.doesNotMatch(String(notes[0]!.note), /absent-too/, 'an optional one is no obstacle');
  assert.ok(!sim.timeline.some((e) => e.type === 'container-start' || e.type === 'unsupported'));
});

test('the kubelet\'s crash back-off: the first restart at once, then 10 s doubling, unless a run asks for a faster one, and says so', async (t) => {
  const pod = (name: string): Json => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { restartPolicy: 'Always', containers: [{ name: 'crash', image: 'app', command: ['sh', '-c', 'exit 1'] }] },
  });
  const kubelet = await Simulator.start(pod('backoff'));
  t.after(() => kubelet.stop());
  const status = await kubelet.waitFor((e) => e.type === 'status' && e.container === 'crash' && e.restartCount === 2);
  assert.equal(status.state, 'waiting CrashLoopBackOff');
  // As on the real node: the first exit shows terminated, and the kubelet starts it again with no back-off.
  const first = kubelet.timeline.filter((e) => e.type === 'status' && e.container === 'crash').map((e) => `${e.state}#${e.restartCount}`);
  assert.deepEqual(first.slice(0, 5), ['waiting ContainerCreating#0', 'ready#0', 'terminated 1#0', 'ready#1', 'waiting CrashLoopBackOff#2']);
  assert.match(String(status.message), /^back-off 10000ms restarting container=crash/);
  assert.ok(!kubelet.timeline.some((e) => e.type === 'note' && /crash back-off/.test(String(e.note))));
  const fast = await Simulator.start(pod('fast'), { backoffBaseMs: 200 });
  t.after(() => fast.stop());
  await fast.waitFor((e) => e.type === 'container-restart');
  assert.ok(fast.timeline.some((e) => e.type === 'note' && /crash back-off 200 ms doubling to 6000 ms, as this run asked/.test(String(e.note))));
});

test('a container\'s last output without a newline is shown when written, not when its stream closes; probe results only when they change', async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'order' },
    spec: {
      restartPolicy: 'Never',
      containers: [
        { name: 'writer', image: 'app', command: ['sh', '-c', 'printf "no newline"; exec sleep 1.5'] },
        { name: 'probed', image: 'app', command: ['sleep', '1.5'], readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } },
      ],
    },
  });
  t.after(() => sim.stop());
  await sim.waitFor((e) => e.type === 'log' && e.container === 'writer' && e.line === 'no newline');
  assert.ok(!sim.timeline.some((e) => e.type === 'container-exit' && e.container === 'writer'), 'shown while the writer still runs');
  await sim.finished;
  assert.equal(sim.timeline.filter((e) => e.type === 'probe' && e.container === 'probed').length, 1, 'one passed probe, not one a second');
});

test('a line a container writes in pieces (python -u, a write per field) is one line, as kubectl logs shows it', async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pieces' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'writer', image: 'app', command: ['sh', '-c', 'printf "one "; sleep 0.3; printf "two\\nthree"; sleep 0.3; echo " four"'] }] },
  });
  t.after(() => sim.stop());
  await sim.finished;
  assert.deepEqual(sim.timeline.filter((e) => e.type === 'log' && e.container === 'writer').map((e) => e.line), ['one two', 'three four']);
});

test('fields the simulator does not play are named: a Pod securityContext\'s but the user, Istio\'s holdApplicationUntilProxyStarts, a CronJob\'s own fields', async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unplayed', annotations: { 'proxy.istio.io/config': 'holdApplicationUntilProxyStarts: true\n' } },
    spec: { restartPolicy: 'Never', securityContext: { runAsUser: 1000, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name: 'main', image: 'app', command: ['true'] }] },
  });
  t.after(() => sim.stop());
  await sim.finished;
  const unplayed = sim.timeline.filter((e) => e.type === 'unsupported').map((e) => String(e.field));
  assert.ok(unplayed.includes('spec.securityContext.fsGroup, seccompProfile (runAsUser and runAsGroup are played)'), unplayed.join('\n'));
  assert.ok(unplayed.some((f) => /holdApplicationUntilProxyStarts/.test(f)), unplayed.join('\n'));
  const empty = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'defaulted' },
    spec: { restartPolicy: 'Never', securityContext: {}, containers: [{ name: 'main', image: 'app', command: ['true'] }] },
  });
  t.after(() => empty.stop());
  await empty.finished;
  assert.deepEqual(empty.timeline.filter((e) => e.type === 'unsupported'), [], 'an empty securityContext asks for nothing');
  const { notes } = podFromManifest(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 100
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: app, command: ["true"]}]
`);
  assert.ok(notes.includes('CronJob spec.concurrencyPolicy: not simulated (no CronJob controller: one run is played)'), notes.join('\n'));
  assert.ok(notes.includes('CronJob spec.startingDeadlineSeconds: not simulated (no CronJob controller: one run is played)'), notes.join('\n'));
});

test('shareProcessNamespace: each container-start names its PID', async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'shared' },
    spec: { restartPolicy: 'Never', shareProcessNamespace: true, containers: [{ name: 'main', image: 'app', command: ['true'] }] },
  });
  t.after(() => sim.stop());
  await sim.finished;
  const start = sim.timeline.find((e) => e.type === 'container-start');
  assert.equal(typeof start?.pid, 'number', JSON.stringify(start));
});

test('RBAC as the manifest grants it, on the fake API server too: none means proa is refused', async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'no-rbac' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'app', command: [binary, '--ready-timeout', '1s', '--shutdown-timeout', '0', '--', 'true'],
      env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }, { name: 'side', image: 'app', command: ['sleep', '30'] }] },
  }, { rbac: false });
  t.after(() => sim.stop());
  await sim.waitFor((e) => e.type === 'container-exit' && e.container === 'main');
  assert.ok(sim.logs('main').some((l) => /^forbidden \(cannot watch\)/.test(String(l.msg))), JSON.stringify(sim.logs('main')));
});

test('kubectl exec as the image would have it: a bare `proa` is not on the PATH of an image with the folder only', { timeout: 60_000 }, async (t) => {
  const played = await play('fake', `apiVersion: v1
kind: Pod
metadata: {name: folder-only}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: registry.example/report:3.1
    command: [/opt/proa/proa, --no-wait, --, sleep, "30"]
`);
  t.after(() => played.stop());
  await played.waitFor((e) => e.type === 'container-start' && e.container === 'main');
  const bare = await played.exec('main', ['proa', '--version']);
  assert.equal(bare.code, 127);
  assert.match(bare.stderr, /exec: "proa": executable file not found in \$PATH \(this image has proa at \/opt\/proa\/proa: exec that\)/);
  const full = await played.exec('main', ['/opt/proa/proa', '--version']);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /^proa \d+\.\d+\.\d+ /);
});

test('an emptyDir named more than once in a script: every mention is the volume, which outlives a container\'s restart', { timeout: 30_000 }, async (t) => {
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'twice', namespace: 'sim' },
    spec: {
      restartPolicy: 'OnFailure', terminationGracePeriodSeconds: 1, volumes: [{ name: 'state', emptyDir: {} }],
      containers: [{ name: 'main', image: 'app', volumeMounts: [{ name: 'state', mountPath: '/state' }],
        command: ['sh', '-c', 'if [ -e /state/ran ]; then echo second; exit 0; fi; touch /state/ran && echo first; exit 3'] }],
    },
  }, { backoffBaseMs: 100 });
  t.after(() => sim.stop());
  const outcome = await sim.finished;
  assert.deepEqual(outcome, { phase: 'Succeeded', deleted: false, exitCodes: { main: 0 }, restarts: { main: 1 } });
  assert.deepEqual(sim.timeline.filter((e) => e.type === 'log' && e.container === 'main').map((e) => e.line), ['first', 'second']);
});

test('HTTP probes as the kubelet sends them: a connection each, closed after it (no keep-alive), so a sidecar that closes its server on shutdown can exit', { timeout: 30_000 }, async (t) => {
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  // Logs each probe's socket and Connection header; after three probes it closes its
  // server and exits once every connection is gone, as many sidecars do on shutdown.
  const script = `const s = require('node:http').createServer((q, r) => { console.log('probe ' + q.socket.remotePort + ' ' + q.headers.connection); r.end('ok');
    if (++n === 3) s.close(() => process.exit(0)); }); let n = 0; s.listen(${port}, '127.0.0.1');`;
  const sim = await Simulator.start({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probed', namespace: 'sim' },
    spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'server', image: 'node', command: [process.execPath, '-e', script],
      readinessProbe: { httpGet: { host: '127.0.0.1', port, path: '/' }, periodSeconds: 1 } }] },
  });
  t.after(() => sim.stop());
  const outcome = await sim.finished;
  assert.deepEqual(outcome.exitCodes, { server: 0 }, 'the server exited once its last connection closed');
  const probes = sim.timeline.filter((e) => e.type === 'log' && e.container === 'server').map((e) => String(e.line).split(' '));
  assert.equal(probes.length, 3);
  assert.equal(new Set(probes.map((p) => p[1])).size, 3, 'a new connection for each probe');
  assert.ok(probes.every((p) => p[2] === 'close'), 'Connection: close on each');
});
