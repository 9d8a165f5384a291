// The real node, as PID 1 of its own network, PID and mount namespaces (node.ts starts
// it with `unshare`): loopback with the node IP and the `kubernetes` ClusterIP, a tmpfs
// over /run (containerd's shim sockets, CNI's network namespaces), then etcd,
// kube-apiserver, the registry (every image pushed to it), containerd, the
// controller-manager, the scheduler, the injectors' webhook and the kubelet, each
// waited for in turn. It says what it did on stdout, one JSON line per step, and ends
// when told (SIGTERM) or when its parent goes (stdin closed): it stops the kubelet
// first, so that nothing is restarted, then the rest in reverse order; whatever is
// left (containers, shims) dies with the PID namespace.
// Usage: inside.ts RUN_DIR BIN_DIR IMAGES_JSON
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer as createTls } from 'node:https';
import { forwarder } from '../forward.ts';
import { join } from 'node:path';
import { adminRequest, type ControlPlaneAccess } from '../api/real-apiserver.ts';
import { push, type Image } from '../images/oci.ts';
import { admit } from '../webhooks/injectors.ts';
import { addresses, nodeName } from './addresses.ts';
import { isCgroupV1, makeCgroupRoot } from './cgroups.ts';
import { layout, writeConfigs } from './configs.ts';
import { kubeconfig, makeNodePki } from './pki.ts';

const [runDir, binDir, imagesJson] = process.argv.slice(2) as [string, string, string];
const l = layout(runDir);
const t0 = performance.now();
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ms: Math.round(performance.now() - t0), ...event })}\n`);
};
const procs: { name: string; proc: ChildProcess }[] = [];
let stopping = false;

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = openSync(join(l.logs, `${name}.log`), 'a');
  const proc = spawn(cmd, args, {
    stdio: ['ignore', out, out],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: runDir, ...env },
  });
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      say({ event: 'died', name, code, signal });
      void stop(1);
    }
  });
  procs.push({ name, proc });
  return proc;
}

async function until(what: string, ok: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const begun = performance.now();
  for (;;) {
    try {
      if (await ok()) break;
    } catch {
      // not up yet
    }
    if (performance.now() - begun > limitMs) throw new Error(`${what}: not after ${limitMs / 1000}s (logs in ${l.logs})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  say({ event: 'step', step: what, took: Math.round(performance.now() - begun) });
}

const pki = (f: string): string => join(l.pki, f);
const read = (f: string): string => readFileSync(pki(f), 'utf8');

async function main(): Promise<void> {
  mkdirSync(l.pki, { recursive: true });
  mkdirSync(l.logs, { recursive: true });
  // The network: nothing but loopback, the node IP and the ClusterIP on it; the CNI
  // bridge appears with the first Pod.
  sh('ip', ['link', 'set', 'lo', 'up']);
  sh('ip', ['addr', 'add', `${addresses.node}/32`, 'dev', 'lo']);
  sh('ip', ['addr', 'add', `${addresses.kubernetesService}/32`, 'dev', 'lo']);
  sh('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', '/run']);
  const cgroupV1 = isCgroupV1();
  makeNodePki(l.pki);
  const files = writeConfigs(l, cgroupV1);
  const server = `https://127.0.0.1:${addresses.apiPort}`;
  const access: ControlPlaneAccess = {
    host: '127.0.0.1', port: addresses.apiPort, ca: read('ca.crt'), adminCert: read('admin.crt'), adminKey: read('admin.key'),
    saKeyFile: pki('sa.key'), issuer: 'https://kubernetes.default.svc.cluster.local',
  };
  const api = (method: string, path: string, body?: unknown): ReturnType<typeof adminRequest> => adminRequest(access, method, path, body);
  say({ event: 'step', step: 'certificates and configuration', cgroup: cgroupV1 ? 'v1' : 'v2' });

  mkdirSync(join(runDir, 'etcd'), { recursive: true });
  start('etcd', join(binDir, 'etcd'), ['--name=node', `--data-dir=${join(runDir, 'etcd')}`,
    '--listen-client-urls=http://127.0.0.1:2379', '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=node=http://127.0.0.1:2380', '--unsafe-no-fsync=true', '--log-level=warn']);
  start('kube-apiserver', join(binDir, 'kube-apiserver'), [
    '--etcd-servers=http://127.0.0.1:2379', `--cert-dir=${pki('apiserver-certs')}`,
    '--bind-address=0.0.0.0', `--advertise-address=${addresses.node}`, `--secure-port=${addresses.apiPort}`,
    `--tls-cert-file=${pki('apiserver.crt')}`, `--tls-private-key-file=${pki('apiserver.key')}`, `--client-ca-file=${pki('ca.crt')}`,
    '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
    `--service-account-key-file=${pki('sa.pub')}`, `--service-account-signing-key-file=${pki('sa.key')}`,
    `--service-account-issuer=${access.issuer}`, `--service-cluster-ip-range=${addresses.serviceRange}`, '--allow-privileged=true',
    `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`, `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
    // By its InternalIP: the node's name resolves nowhere here.
    '--kubelet-preferred-address-types=InternalIP',
  ]);
  start('registry', join(binDir, 'registry'), ['serve', files.registry], { OTEL_TRACES_EXPORTER: 'none' });
  await until('kube-apiserver ready', async () => (await api('GET', '/readyz')).status === 200);

  // The images, pushed while the rest starts.
  const images = JSON.parse(readFileSync(imagesJson, 'utf8')) as Image[];
  const pushed = (async () => {
    await until('registry ready', async () => (await fetch(`http://${addresses.registry}/v2/`)).status === 200);
    const begun = performance.now();
    const mounts = new Map<string, string>();
    for (const img of images) await push(`http://${addresses.registry}`, img, mounts);
    say({ event: 'step', step: `${images.length} images pushed`, took: Math.round(performance.now() - begun) });
  })();

  start('containerd', 'containerd', ['--config', files.containerd]);
  start('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
    `--kubeconfig=${kubeconfig(l.pki, 'controller-manager', server)}`, '--leader-elect=false',
    `--service-account-private-key-file=${pki('sa.key')}`, `--root-ca-file=${pki('ca.crt')}`,
    '--use-service-account-credentials=true', '--secure-port=0',
  ]);
  start('kube-scheduler', join(binDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfig(l.pki, 'scheduler', server)}`, '--leader-elect=false', '--secure-port=0',
  ]);
  serveWebhook();
  const hook = await api('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'proa-test-injectors' },
    webhooks: [{
      name: 'injectors.proa.test', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 10,
      clientConfig: { url: `https://127.0.0.1:${addresses.webhookPort}/inject`, caBundle: Buffer.from(read('ca.crt')).toString('base64') },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    }],
  });
  if (hook.status !== 201) throw new Error(`the injectors' MutatingWebhookConfiguration was refused: ${hook.status} ${hook.body.slice(0, 300)}`);
  await pushed;
  makeCgroupRoot(l.cgroupRoot);
  start('kubelet', join(binDir, 'kubelet'), [
    `--config=${files.kubelet}`, `--kubeconfig=${kubeconfig(l.pki, 'kubelet', server)}`,
    `--root-dir=${join(runDir, 'kubelet', 'root')}`, `--cert-dir=${join(runDir, 'kubelet', 'pki')}`,
    `--node-ip=${addresses.node}`, `--hostname-override=${nodeName}`, '--v=1',
  ]);
  await until('node Ready', async () => {
    const r = await api('GET', `/api/v1/nodes/${nodeName}`);
    const conditions = (JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
    return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  });
  await until('kube-root-ca.crt published', async () => (await api('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt')).status === 200);
  await until('default ServiceAccount', async () => (await api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200);

  // The harness outside reaches the API server through this socket.
  const apiSocket = join(runDir, 'api.sock');
  forwarder({ port: addresses.apiPort, host: '127.0.0.1' }).listen(apiSocket, () => say({ event: 'ready', apiSocket, pki: l.pki, logs: l.logs, cgroupRoot: l.cgroupRoot, podLogs: join(runDir, 'pod-logs') }));
}

/** The injectors' mutating webhook: the templates of testbed/webhooks/injectors.ts, served as a JSONPatch. */
function serveWebhook(): void {
  createTls({ cert: read('webhook.crt'), key: read('webhook.key') }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      let review: { request: { uid: string; object: { metadata?: Record<string, unknown>; spec: unknown } } };
      try {
        review = JSON.parse(body) as typeof review;
        if (typeof review.request?.object?.spec !== 'object') throw new Error('no Pod in the review');
      } catch (err) {
        res.writeHead(400).end(String(err)); // not the API server's review: the node keeps running
        return;
      }
      const pod = review.request.object;
      const injected = admit(pod as Parameters<typeof admit>[0]);
      const patch = injected.length > 0 ? [{ op: 'replace', path: '/spec', value: pod.spec }] : undefined;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true, ...(patch ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) },
      }));
    });
  }).listen(addresses.webhookPort, '127.0.0.1');
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const order = [...procs.filter((p) => p.name === 'kubelet'), ...procs.filter((p) => p.name !== 'kubelet').reverse()];
  for (const { name, proc } of order) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), name === 'kube-apiserver' ? 2000 : 5000);
    await new Promise((r) => proc.once('exit', r));
    clearTimeout(killer);
  }
  say({ event: 'stopped' });
  process.exit(code);
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.stdin.on('end', () => void stop(0));
process.stdin.resume();
main().catch((err: unknown) => {
  say({ event: 'failed', error: String(err instanceof Error ? err.message : err) });
  void stop(1);
});
