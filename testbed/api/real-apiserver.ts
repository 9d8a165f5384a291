// The real Kubernetes API server for the test bed: etcd and kube-apiserver built from the
// Kubernetes Go modules by `npm run kube:build` (testbed/go/kube/), started the way envtest
// starts them for controller authors, with what proa needs besides: a serving
// certificate from a CA of ours (proa's ca.crt), RBAC, and a service-account signing key
// so that the TokenRequest API mints real bound tokens. A control plane without
// kube-controller-manager lacks some things, which the harness does instead: nobody
// creates a namespace's `default` ServiceAccount (the harness creates every one a Pod
// names), there is no Job controller (the simulator creates Pods itself), and no
// namespace is ever deleted (tests use fresh ones).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { root, tempDir } from '../paths.ts';
import { freePort } from '../ports.ts';

/** The Kubernetes release testbed/go/kube/go.mod pins. */
export const kubeVersion = readFileSync(join(root, 'testbed', 'go', 'kube', 'go.mod'), 'utf8').match(/^\s*k8s\.io\/kubernetes (v\S+)$/m)![1]!;

/** Where `npm run kube:build` puts the binaries: outside the clone, so a warm machine reuses them. */
export function kubeBinDir(): string {
  return process.env.PROA_KUBE_CACHE ? join(process.env.PROA_KUBE_CACHE, kubeVersion)
    : join(homedir(), '.cache', 'proa', 'kube', kubeVersion);
}

export function kubeBinariesBuilt(): boolean {
  return ['kube-apiserver', 'etcd'].every((b) => existsSync(join(kubeBinDir(), b)));
}

/** What test files need to reach a running control plane (passed to them in PROA_REAL_API). */
export interface ControlPlaneAccess {
  host: string;
  port: number;
  /** PEM: the CA that signed the serving certificate and the admin's client certificate. */
  ca: string;
  adminCert: string;
  adminKey: string;
  /** The service-account signing key, for tokens the TokenRequest API will not mint (short-lived ones). */
  saKeyFile: string;
  issuer: string;
}

export interface AdminResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A request to the real API server as the harness's admin (a client certificate in system:masters). */
export function adminRequest(access: ControlPlaneAccess, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      host: access.host, port: access.port, path, method,
      ca: access.ca, cert: access.adminCert, key: access.adminKey, agent: false,
      headers: { Accept: 'application/json', ...(data ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(data) } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makePki(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=proa-test-cluster-ca']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  // The harness's identity: a client certificate in system:masters.
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['req', ...ec, '-keyout', 'admin.key', '-out', 'admin.csr', '-subj', '/O=system:masters/CN=proa-test-admin']);
  openssl(dir, ['x509', '-req', '-in', 'admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'admin.crt', '-days', '2', '-extfile', 'client.ext']);
  openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function waitExit(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((resolve) => p.once('exit', () => resolve()));
}

/** etcd and kube-apiserver, on free loopback ports, with data in a temporary directory. */
export class ControlPlane {
  readonly access: ControlPlaneAccess;
  readonly #dir: string;
  readonly #procs: ChildProcess[] = [];
  readonly #logs: string[] = [];
  /** Milliseconds from start to /readyz answering 200, and each process's RSS then. */
  startupMs = 0;
  #apiserverArgs: string[] = [];

  private constructor(dir: string, access: ControlPlaneAccess) {
    this.#dir = dir;
    this.access = access;
  }

  static async start(opts: { watchCache?: boolean; compactionInterval?: string } = {}): Promise<ControlPlane> {
    const t0 = performance.now();
    const bin = kubeBinDir();
    const dir = tempDir('proa-kube-');
    makePki(dir);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const issuer = 'https://kubernetes.default.svc.cluster.local';
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
    const cp = new ControlPlane(dir, {
      host: '127.0.0.1', port: apiPort, ca: read('ca.crt'), adminCert: read('admin.crt'), adminKey: read('admin.key'),
      saKeyFile: join(dir, 'sa.key'), issuer,
    });
    mkdirSync(join(dir, 'etcd'));
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    cp.#spawn(join(bin, 'etcd'), [
      '--name=default', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync=true', '--log-level=warn',
    ]);
    // envtest's flags (controller-runtime pkg/internal/testing/controlplane), plus RBAC
    // and real service-account tokens.
    cp.#apiserverArgs = [
      `--etcd-servers=${etcdUrl}`, `--cert-dir=${join(dir, 'certs')}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${join(dir, 'server.crt')}`, `--tls-private-key-file=${join(dir, 'server.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--service-account-issuer=${issuer}`,
      '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      // No kubelet or Node here: the kubernetes Service's endpoints would name loopback.
      '--endpoint-reconciler-type=none',
      ...(opts.watchCache === false ? ['--watch-cache=false'] : []),
      ...(opts.compactionInterval ? [`--etcd-compaction-interval=${opts.compactionInterval}`] : []),
    ];
    cp.#startApiserver();
    try {
      await cp.#ready();
    } catch (err) {
      await cp.stop(); // never leave an etcd behind
      throw err;
    }
    cp.startupMs = Math.round(performance.now() - t0);
    return cp;
  }

  #spawn(cmd: string, args: string[]): ChildProcess {
    // setpriv execs in place (the same PID) with a parent-death signal: a test run killed
    // outright leaves no etcd or kube-apiserver behind.
    const p = spawn('setpriv', ['--pdeathsig', 'TERM', '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    const keep = (b: Buffer): void => {
      this.#logs.push(b.toString());
      if (this.#logs.length > 400) this.#logs.splice(0, 200);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.#procs.push(p);
    return p;
  }

  #apiserver: ChildProcess | undefined;

  #startApiserver(): void {
    this.#apiserver = this.#spawn(join(kubeBinDir(), 'kube-apiserver'), this.#apiserverArgs);
  }

  /** Until /readyz answers 200 (or a process dies, with its last output). */
  async #ready(): Promise<void> {
    for (let i = 0; ; i++) {
      for (const p of this.#procs) {
        if (p.exitCode !== null && p === this.#apiserver) throw new Error(`kube-apiserver exited ${p.exitCode}:\n${this.#logs.join('').slice(-4000)}`);
      }
      try {
        const r = await this.request('GET', '/readyz');
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (i > 600) throw new Error(`kube-apiserver not ready after 60s:\n${this.#logs.join('').slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** kube-apiserver stopped and started again on the same port and etcd (a restart mid-watch). */
  async restartApiserver(): Promise<void> {
    const p = this.#apiserver!;
    // Graceful first; a graceful stop can wait a minute on requests in flight, so not for long.
    p.kill('SIGTERM');
    const killer = setTimeout(() => p.kill('SIGKILL'), 2000);
    await waitExit(p);
    clearTimeout(killer);
    this.#startApiserver();
    await this.#ready();
  }

  /** A request as the harness's admin. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<AdminResponse> {
    return adminRequest(this.access, method, path, body, contentType);
  }

  async stop(): Promise<void> {
    for (const p of [...this.#procs].reverse()) {
      p.kill('SIGTERM');
      const killer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await waitExit(p);
      clearTimeout(killer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** RSS in KiB of etcd and kube-apiserver now. */
  rss(): { etcd: number; apiserver: number } {
    const kib = (p: ChildProcess | undefined): number => Number(readFileSync(`/proc/${p?.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
    return { etcd: kib(this.#procs[0]), apiserver: kib(this.#apiserver) };
  }
}
