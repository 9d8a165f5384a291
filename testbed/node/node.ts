// The real node as the harness sees it from outside its namespaces: `RealNode.start()`
// builds the images (catalog.ts), starts inside.ts under `unshare` (its own network, PID
// and mount namespaces: a killed test run leaves no process, mount or interface behind),
// forwards a loopback port to the API server through a Unix socket in the run
// directory, and gives kubectl a kubeconfig for it. `stop()` ends it by PID and removes
// what it made: the run directory and the kubelet's cgroups.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { forwarder } from '../forward.ts';
import { kubeconfig as writeKubeconfig } from './pki.ts';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { kubeBinDir, kubeVersion, adminRequest, type AdminResponse, type ControlPlaneAccess } from '../api/real-apiserver.ts';
import { buildCatalog } from '../images/catalog.ts';
import { node, root, tempDir } from '../paths.ts';
import { cgroupHierarchies, launcherPidFile, staleRuns } from './cgroups.ts';

export const nodeBinaries = ['kube-apiserver', 'etcd', 'kubelet', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'registry'];
const hostTools: [string, string][] = [['containerd', 'containerd'], ['runc', 'runc'], ['containerd-shim-runc-v2', 'containerd'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'], ['unshare', 'util-linux'], ['setpriv', 'util-linux'], ['ip', 'iproute2'], ['gcc', 'gcc'],
  // pause.c is linked statically
  ['/usr/lib/x86_64-linux-gnu/libc.a', 'libc6-dev'], ['tar', 'tar']];

function onPath(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  return ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, cmd)));
}

/** Why the real node cannot start here, or undefined when it can. */
export function nodeMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'the real node needs root (namespaces, mounts, cgroups)';
  const notBuilt = nodeBinaries.filter((b) => !existsSync(join(kubeBinDir(), b)));
  if (notBuilt.length) return `not built: ${notBuilt.join(', ')} (npm run kube:build: about 17 min from an empty Go module cache on 2 cores, seconds when built)`;
  const packages = [...new Set(hostTools.filter(([cmd]) => !onPath(cmd)).map(([, pkg]) => pkg))];
  if (packages.length) return `missing packages: apt-get install ${packages.join(' ')}`;
  if (!existsSync(join(root, 'dist', 'portable-x64', 'opt', 'proa', 'proa'))) return 'proa\'s portable folder is not built (npm run dist)';
  return undefined;
}

/** What a test file needs of a running node (run.ts passes it in PROA_REAL_NODE). */
export interface NodeClient {
  readonly access: ControlPlaneAccess;
  readonly kubeconfig: string;
  kubectl(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The node test/run.ts started for this run, or undefined. */
export function nodeFromEnv(): NodeClient | undefined {
  const text = process.env.PROA_REAL_NODE;
  if (!text) return undefined;
  const { access, kubeconfig: file } = JSON.parse(text) as { access: ControlPlaneAccess; kubeconfig: string };
  return { access, kubeconfig: file, kubectl: (args, input) => kubectl(file, args, input) };
}

export interface NodeStep {
  step: string;
  ms: number;
  took?: number;
}

export class RealNode implements NodeClient {
  readonly access: ControlPlaneAccess;
  /** kubectl's configuration: the harness's admin, through the forwarded port. */
  readonly kubeconfig: string;
  readonly steps: NodeStep[];
  /** Milliseconds from the launch to the node Ready with kube-root-ca.crt published (images built before). */
  readonly startupMs: number;
  readonly run: string;
  /** The images its registry holds, as Pod specs name them. */
  readonly images: string[];
  readonly #inside: ChildProcess;
  readonly #forward: Server;
  readonly #cgroupRoot: string;
  #stopping = false;
  /** Resolves with why, should the node end without stop(). */
  readonly died: Promise<string>;

  private constructor(run: string, images: string[], inside: ChildProcess, forward: Server, access: ControlPlaneAccess, kubeconfig: string, steps: NodeStep[], startupMs: number, cgroupRoot: string) {
    this.run = run;
    this.images = images;
    this.#inside = inside;
    this.#forward = forward;
    this.access = access;
    this.kubeconfig = kubeconfig;
    this.steps = steps;
    this.startupMs = startupMs;
    this.#cgroupRoot = cgroupRoot;
    this.died = new Promise((resolve) => inside.once('exit', (code, signal) => {
      if (!this.#stopping) resolve(`the real node's launcher ended (${signal ?? `exit ${code}`}); its logs were in ${join(run, 'logs')}`);
    }));
  }

  static async start(opts: { progress?: (line: string) => void } = {}): Promise<RealNode> {
    const missing = nodeMissing();
    if (missing) throw new Error(`the real node cannot start: ${missing}`);
    // A run killed outright leaves its (empty) cgroups and its run directory: the next start removes them.
    for (const stale of staleRuns()) {
      removeCgroups(stale.cgroupRoot);
      rmSync(stale.run, { recursive: true, force: true });
    }
    const run = tempDir('proa-node-');
    const say = opts.progress ?? ((): void => {});
    const built = performance.now();
    const images = buildCatalog({ root, standins: join(root, 'testbed', 'images', 'standins'), workDir: join(root, '.build', 'node-images'), kubeVersion });
    writeFileSync(join(run, 'images.json'), JSON.stringify(images));
    say(`images: ${images.length} built in ${((performance.now() - built) / 1000).toFixed(1)} s`);
    const t0 = performance.now();
    // setpriv's parent-death signal: a harness killed outright takes unshare with it, and
    // --kill-child the namespace's PID 1, and so everything in it.
    const inside = spawn('setpriv', ['--pdeathsig', 'TERM', '--', 'unshare', '--net', '--pid', '--mount', '--fork', '--kill-child', '--mount-proc', '--',
      node, join(root, 'testbed', 'node', 'inside.ts'), run, kubeBinDir(), join(run, 'images.json')],
    // Its own process group: a terminal's Ctrl-C is the harness's to handle (the demo
    // deletes the Pod), not a signal that would take the node down under it.
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    writeFileSync(launcherPidFile(run), String(inside.pid));
    const steps: NodeStep[] = [];
    const ready = await new Promise<{ apiSocket: string; pki: string; cgroupRoot: string }>((resolve, reject) => {
      const lines = createInterface({ input: inside.stdout! });
      lines.on('line', (line) => {
        const e = JSON.parse(line) as { event: string; step?: string; ms: number; took?: number; error?: string; name?: string };
        if (e.event === 'step') {
          steps.push({ step: e.step!, ms: e.ms, took: e.took });
          say(`${(e.ms / 1000).toFixed(1)} s: ${e.step}`);
        } else if (e.event === 'ready') resolve(e as unknown as { apiSocket: string; pki: string; cgroupRoot: string });
        else if (e.event === 'failed' || e.event === 'died') reject(new Error(`the real node: ${e.error ?? `${e.name} died`} (logs: ${join(run, 'logs')})`));
      });
      inside.once('exit', (code) => reject(new Error(`the real node's launcher exited ${code} (logs: ${join(run, 'logs')})`)));
    }).catch(async (err: unknown) => {
      await stopInside(inside);
      throw err;
    });
    const startupMs = Math.round(performance.now() - t0);
    const forward = forwarder({ path: ready.apiSocket });
    const port = await new Promise<number>((resolve) => forward.listen(0, '127.0.0.1', () => resolve((forward.address() as { port: number }).port)));
    const read = (f: string): string => readFileSync(join(ready.pki, f), 'utf8');
    const access: ControlPlaneAccess = {
      host: '127.0.0.1', port, ca: read('ca.crt'), adminCert: read('admin.crt'), adminKey: read('admin.key'),
      saKeyFile: join(ready.pki, 'sa.key'), issuer: 'https://kubernetes.default.svc.cluster.local',
    };
    const kubeconfig = writeKubeconfig(ready.pki, 'admin', `https://127.0.0.1:${port}`, join(run, 'admin-outside.kubeconfig'));
    return new RealNode(run, images.map((i) => i.ref), inside, forward, access, kubeconfig, steps, startupMs, ready.cgroupRoot);
  }

  /** For PROA_REAL_NODE. */
  toEnv(): string {
    return JSON.stringify({ access: this.access, kubeconfig: this.kubeconfig });
  }

  request(method: string, path: string, body?: unknown, contentType?: string): Promise<AdminResponse> {
    return adminRequest(this.access, method, path, body, contentType);
  }

  /** kubectl as the harness's admin; resolves with its output whatever its exit code. */
  kubectl(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return kubectl(this.kubeconfig, args, input);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#forward.close();
    await stopInside(this.#inside);
    removeCgroups(this.#cgroupRoot);
    rmSync(this.run, { recursive: true, force: true });
  }
}

/**
 * kubectl's own flags: the configuration, and its discovery cache beside it (without HOME,
 * a harness's environment, kubectl would write `.kube/` into whatever directory it runs in).
 */
export function kubectlFlags(kubeconfig: string): string[] {
  return [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dirname(kubeconfig), 'kubectl-cache')}`];
}

export function kubectl(kubeconfig: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(join(kubeBinDir(), 'kubectl'), [...kubectlFlags(kubeconfig), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

async function stopInside(inside: ChildProcess): Promise<void> {
  if (inside.exitCode !== null || inside.signalCode !== null) return;
  const gone = new Promise((r) => inside.once('exit', r));
  // unshare passes no signal on; its stdin is inside.ts', whose end stops everything by PID.
  inside.stdin!.end();
  const killer = setTimeout(() => inside.kill('SIGKILL'), 20_000); // --kill-child: the namespace's PID 1 dies, and all in it
  await gone;
  clearTimeout(killer);
}

/** The kubelet's cgroups, deepest first; the processes in them died with the PID namespace. */
export function removeCgroups(cgroupRoot: string): void {
  const remove = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir)) {
      const sub = join(dir, e);
      if (statSync(sub).isDirectory()) remove(sub);
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        return;
      } catch {
        spawnSync('sleep', ['0.1']); // a task still leaving its cgroup
      }
    }
  };
  for (const h of cgroupHierarchies()) remove(join('/sys/fs/cgroup', h, cgroupRoot));
}

/** containerd's version, as `containerd --version` says it. */
export function containerdVersion(): string {
  return spawnSync('containerd', ['--version'], { encoding: 'utf8' }).stdout.split(' ')[2] ?? 'unknown';
}
