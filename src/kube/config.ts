// Identity and credentials of the Pod proa runs in: where the API server is, the
// service-account token and CA, this Pod's name and namespace, and proa's container.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config, Sourced } from '../cli/cli.ts';

export interface ClusterAccess {
  /** host:port as it goes in a URL (IPv6 literals bracketed). */
  host: string;
  port: number;
  ca: Buffer;
  /** Re-read on every request: the kubelet rotates the file and never tells us. */
  readToken: () => string;
}

export class NotInCluster extends Error {
  override name = 'NotInCluster';
}

export function loadClusterAccess(env: NodeJS.ProcessEnv, saDir: string): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new NotInCluster('KUBERNETES_SERVICE_HOST is not set');
  const portText = env.KUBERNETES_SERVICE_PORT || '443';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new NotInCluster(`KUBERNETES_SERVICE_PORT="${portText}" is not a port number`);
  }
  const tokenPath = join(saDir, 'token');
  const readToken = (): string => readFileSync(tokenPath, 'utf8').trim();
  try {
    if (readToken() === '') throw new Error('empty');
  } catch {
    throw new NotInCluster(`no service-account token at ${tokenPath}`);
  }
  let ca: Buffer;
  try {
    ca = readFileSync(join(saDir, 'ca.crt'));
  } catch {
    throw new NotInCluster(`no cluster CA certificate at ${join(saDir, 'ca.crt')}`);
  }
  return { host: host.includes(':') ? `[${host}]` : host, port, ca, readToken };
}

export interface Identity {
  pod: Sourced<string>;
  namespace: Sourced<string>;
}

/** First match wins: flag/PROA_ variable, then the downward API's variables, then files. */
export function resolveIdentity(config: Config, env: NodeJS.ProcessEnv, host = hostname()): Identity {
  const pod: Sourced<string> = config.pod
    ?? (env.POD_NAME ? { value: env.POD_NAME, source: 'POD_NAME' } : { value: host.split('.')[0]!, source: 'hostname' });
  let namespace: Sourced<string> | undefined = config.namespace
    ?? (env.POD_NAMESPACE ? { value: env.POD_NAMESPACE, source: 'POD_NAMESPACE' } : undefined);
  if (!namespace) {
    const file = join(config.serviceAccountDir, 'namespace');
    try {
      namespace = { value: readFileSync(file, 'utf8').trim(), source: file };
    } catch {
      namespace = { value: 'default', source: `no --namespace, POD_NAMESPACE or ${file}: the default` };
    }
  }
  return { pod, namespace };
}

/**
 * The kubelet's termination-log mount of this container in /proc/self/mountinfo's text:
 * its root (`.../pods/<uid>/containers/<name>/<id>`, relative to its filesystem, so only
 * the tail is matched) and its mount point. undefined outside a Pod.
 */
function terminationMount(text: string): { container: string; mountPoint: string | undefined } | undefined {
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const m = f[3]?.match(/\/pods\/[^/]+\/containers\/([^/]+)\/[^/]+$/);
    if (m) return { container: m[1]!, mountPoint: f[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) };
  }
  return undefined;
}

/** The container name in the kubelet's termination-log mount. */
export function containerFromMountinfo(text: string): string | undefined {
  return terminationMount(text)?.container;
}

/**
 * Where the kubelet mounted this container's termination log (its spec's
 * terminationMessagePath, /dev/termination-log unless set).
 */
export function terminationLogFromMountinfo(text: string): string | undefined {
  return terminationMount(text)?.mountPoint;
}

export function detectContainer(mountinfo = '/proc/self/mountinfo'): string | undefined {
  try {
    return containerFromMountinfo(readFileSync(mountinfo, 'utf8'));
  } catch {
    return undefined;
  }
}
