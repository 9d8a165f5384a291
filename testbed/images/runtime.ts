// The container runtime's part of the simulator: what a container of an example runs on
// this machine. proa at the paths the Dockerfile puts it is the built binary; each
// well-known sidecar's image runs its stand-in (standins/), under the real
// program's name, so that `--kill NAME` finds it as it would in the image; `python`
// in a python image is this machine's python3; anything else runs as written (the
// examples' own commands are ones this machine has: sh, echo, sleep).
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../api/fake-apiserver.ts';
import { binary, node, root } from '../paths.ts';

/** Where proa lives in an image: the Dockerfile's two paths. */
const proaPaths = new Set(['/usr/local/bin/proa', '/opt/proa/proa']);

/** An image's repository, without registry tag or digest: `docker.io/istio/proxyv2:1.28.1` → `istio/proxyv2`. */
export function repository(image: string): string {
  const path = image.replace(/@.*$/, '').replace(/:[^/]*$/, '');
  const parts = path.split('/');
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  return parts.join('/');
}

/**
 * A command named `name` that is Node: a hard link (a copy across file systems), so that
 * /proc/PID/exe, which `--kill` reads, names `name` as the real image's binary would.
 */
function named(name: string): string {
  const bin = join(root, '.build', 'images');
  const path = join(bin, name);
  if (existsSync(path)) return path;
  mkdirSync(bin, { recursive: true });
  const partial = `${path}.${process.pid}`;
  try {
    linkSync(node, partial);
  } catch {
    copyFileSync(node, partial);
    chmodSync(partial, 0o755);
  }
  renameSync(partial, path); // whole or not at all: test files make these in parallel
  return path;
}

const standin = (program: string, script: string, args: string[]): string[] =>
  [named(program), join(root, 'testbed', 'images', 'standins', script), ...args];

/** What `kubectl exec` runs in a container of an example: proa by its name or paths in the image is the built binary. */
export function execArgv(argv: string[]): string[] {
  return argv[0] === 'proa' || (argv[0] !== undefined && proaPaths.has(argv[0])) ? [binary, ...argv.slice(1)] : argv;
}

/** The argv to run for a container of an example (its command and args as written, or empty for the image's entrypoint). */
export function runtime(container: Json, argv: string[]): string[] {
  if (argv[0] !== undefined && proaPaths.has(argv[0])) return [binary, ...argv.slice(1)];
  const repo = repository(String(container.image ?? ''));
  switch (repo) {
    case 'istio/proxyv2':
      // The injector runs this image twice: istio-init (istio-iptables) and the proxy.
      return argv.includes('istio-iptables') ? standin('istio-iptables', 'init.mjs', ['istio-init']) : standin('pilot-agent', 'istio-proxy.mjs', argv);
    case 'linkerd/proxy-init':
      return standin('proxy-init', 'init.mjs', ['linkerd-init']);
    case 'linkerd/proxy':
      return standin('linkerd2-proxy', 'linkerd-proxy.mjs', argv);
    case 'cloud-sql-connectors/cloud-sql-proxy':
      return standin('cloud-sql-proxy', 'cloud-sql-proxy.mjs', argv);
    case 'hashicorp/vault':
      // The injector's `/bin/sh -ec "echo $VAULT_CONFIG | base64 -d > ... && vault agent ..."`.
      return standin('vault', 'vault-agent.mjs', []);
    case 'fluent/fluent-bit':
      return standin('fluent-bit', 'fluent-bit.mjs', argv);
    case 'python':
    case 'library/python':
      return argv[0] === 'python' ? ['python3', ...argv.slice(1)] : argv;
    default:
      return argv;
  }
}
