// Well-known sidecars, recognised from the Pod spec, and how each is told to exit with
// code 0. Pure: the spec in, what proa knows out. Three answers per sidecar: the spec
// shows its shutdown endpoint enabled, shows it disabled, or cannot tell (the
// configuration lives where proa does not look, such as a ConfigMap).
import type { ContainerSpec, Pod } from '../shared/pod.ts';
import { isLocalHost, portOf } from '../shared/urls.ts';

export type Endpoint = 'enabled' | 'disabled' | 'unknown';

export interface KnownSidecar {
  container: string;
  name: 'Istio' | 'Linkerd' | 'Cloud SQL Auth Proxy' | 'Vault Agent';
  /** A native sidecar (init container, restartPolicy Always): the kubelet stops it; never auto-stopped. */
  native: boolean;
  /** undefined when the spec's port is not one (`portProblem` says which field and why). */
  url: string | undefined;
  portProblem?: string;
  endpoint: Endpoint;
  /** Why the endpoint is judged so, for `proa check` and the logs. */
  why: string;
  /** What enables its shutdown endpoint: the fix to name when it refuses the request. */
  enable: string;
  /**
   * Its own switch to exit 0 on SIGTERM, where it has one, and whether the spec sets it: a
   * sidecar ended by an unhandled signal exits 143, and a Pod succeeds only when every
   * container exits 0.
   */
  zeroOnSigterm?: { flag: string; set: boolean };
}

type Spec = ContainerSpec;

/**
 * `$(VAR)` in a value, as the kubelet expands it: from the container's variables defined
 * so far; `$$` stands for `$`; a reference to an unknown variable stays as written.
 */
export function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    name === undefined ? '$' : vars.get(name) ?? m);
}

/** The container's literal env, each value expanded from those before it (valueFrom ones are unknown here). */
function envVars(c: Spec): Map<string, string> {
  const vars = new Map<string, string>();
  for (const e of c.env ?? []) if (e.value !== undefined) vars.set(e.name, expand(e.value, vars));
  return vars;
}

const envOf = (c: Spec, name: string): string | undefined => envVars(c).get(name);
const argv = (c: Spec): string[] => {
  const vars = envVars(c);
  return [...(c.command ?? []), ...(c.args ?? [])].map((a) => expand(a, vars));
};

/** A port as the spec gives it: a whole number from 1 to 65535, or why it is not. */
function port(text: string, field: string): { port: number } | { problem: string } {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535
    ? { port: Number(text) } : { problem: `${field} is ${JSON.stringify(text.slice(0, 64))}, not a port (1-65535)` };
}

/** The sidecar's shutdown URL on `portText` of the loopback address, or the problem with the port. */
function endpointAt(portText: string, field: string, path: string): Pick<KnownSidecar, 'url' | 'portProblem'> {
  const p = port(portText, field);
  return 'port' in p ? { url: `http://127.0.0.1:${p.port}${path}` } : { url: undefined, portProblem: p.problem };
}

/** `--flag`, `--flag=value` or `--flag value` in a container's command line. */
function flag(c: Spec, name: string): { present: boolean; value: string | undefined } {
  const args = argv(c);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}` || a === `-${name}`) {
      const next = args[i + 1];
      return { present: true, value: next !== undefined && !next.startsWith('-') ? next : undefined };
    }
    if (a.startsWith(`--${name}=`) || a.startsWith(`-${name}=`)) return { present: true, value: a.slice(a.indexOf('=') + 1) };
  }
  return { present: false, value: undefined };
}

function recogniseOne(c: Spec, native: boolean, annotations: Record<string, string>): KnownSidecar | undefined {
  const image = c.image ?? '';
  // Istio: pilot-agent serves POST /quitquitquit on its status port 15020, always.
  // (istio.io, "pilot-agent" reference; the sidecar injector names the container istio-proxy.)
  if (c.name === 'istio-proxy' || /\/proxyv2(:|@|$)/.test(image)) {
    return { container: c.name, name: 'Istio', native, url: 'http://127.0.0.1:15020/quitquitquit', endpoint: 'enabled', why: 'pilot-agent always serves /quitquitquit',
      enable: 'nothing: pilot-agent always serves POST /quitquitquit on its status port 15020' };
  }
  // Linkerd: POST /shutdown on the admin port 4191, off by default since Linkerd 2.16
  // (linkerd2 commit 35fb2d6: annotation config.linkerd.io/proxy-admin-shutdown: enabled,
  // which the injector turns into LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED on the proxy).
  if (c.name === 'linkerd-proxy') {
    const value = envOf(c, 'LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED');
    const listen = envOf(c, 'LINKERD2_PROXY_ADMIN_LISTEN_ADDR');
    const admin = listen === undefined ? '4191' : listen.match(/:([^:]*)$/)?.[1] ?? listen;
    const endpoint: Endpoint = value === 'true' ? 'enabled' : value === 'false' ? 'disabled' : 'unknown';
    return {
      container: c.name, name: 'Linkerd', native, ...endpointAt(admin, 'the port of LINKERD2_PROXY_ADMIN_LISTEN_ADDR', '/shutdown'), endpoint,
      enable: 'the annotation config.linkerd.io/proxy-admin-shutdown: enabled on the Pod template',
      why: value === undefined ? 'no LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED on the proxy (older Linkerd: on; 2.16 and later: off)'
        : `LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED=${value} (annotation config.linkerd.io/proxy-admin-shutdown: enabled turns it on)`,
    };
  }
  // Cloud SQL Auth Proxy v2 (image .../cloud-sql-proxy): POST /quitquitquit on the admin
  // port (--admin-port, default 9091) when started with --quitquitquit
  // (or CSQL_PROXY_QUITQUITQUIT=true). v1 (gce-proxy, cloud_sql_proxy) has no endpoint.
  if (/\/cloud-sql-proxy(:|@|$)/.test(image) || argv(c)[0]?.endsWith('cloud-sql-proxy')) {
    const quit = flag(c, 'quitquitquit');
    const env = envOf(c, 'CSQL_PROXY_QUITQUITQUIT');
    const fromFlag = flag(c, 'admin-port').value;
    const fromEnv = envOf(c, 'CSQL_PROXY_ADMIN_PORT');
    const field = fromFlag !== undefined ? '--admin-port' : fromEnv !== undefined ? 'CSQL_PROXY_ADMIN_PORT' : 'the default admin port';
    const on = (quit.present && quit.value !== 'false') || env === 'true';
    // --exit-zero-on-sigterm (v2.1+; CSQL_PROXY_EXIT_ZERO_ON_SIGTERM): exit 0, not 143, on SIGTERM.
    const zero = flag(c, 'exit-zero-on-sigterm');
    const zeroSet = (zero.present && zero.value !== 'false') || envOf(c, 'CSQL_PROXY_EXIT_ZERO_ON_SIGTERM') === 'true';
    return {
      zeroOnSigterm: { flag: '--exit-zero-on-sigterm', set: zeroSet },
      container: c.name, name: 'Cloud SQL Auth Proxy', native, ...endpointAt(fromFlag ?? fromEnv ?? '9091', field, '/quitquitquit'), endpoint: on ? 'enabled' : 'disabled',
      enable: 'the proxy\'s flag --quitquitquit',
      why: on ? 'started with --quitquitquit' : 'not started with --quitquitquit (add it to the proxy\'s args)',
    };
  }
  // Vault Agent (injector's container vault-agent): POST /agent/v1/quit on its listener when
  // agent_api { enable_quit = true }, set by the annotation vault.hashicorp.com/agent-enable-quit
  // (vault-k8s 0.16); the listener port from vault.hashicorp.com/agent-cache-listener-port (8200).
  if (c.name === 'vault-agent') {
    const quit = annotations['vault.hashicorp.com/agent-enable-quit'];
    const listener = annotations['vault.hashicorp.com/agent-cache-listener-port'] ?? '8200';
    const fromConfigMap = annotations['vault.hashicorp.com/agent-configmap'] !== undefined;
    const endpoint: Endpoint = quit === 'true' ? 'enabled' : fromConfigMap ? 'unknown' : 'disabled';
    return {
      container: c.name, name: 'Vault Agent', native,
      ...endpointAt(listener, 'annotation vault.hashicorp.com/agent-cache-listener-port', '/agent/v1/quit'), endpoint,
      enable: fromConfigMap ? 'agent_api { enable_quit = true } in the agent\'s ConfigMap' : 'the annotation vault.hashicorp.com/agent-enable-quit: "true"',
      why: quit === 'true' ? 'annotation vault.hashicorp.com/agent-enable-quit: "true"'
        : fromConfigMap ? 'its configuration is in a ConfigMap (vault.hashicorp.com/agent-configmap), which proa does not read: agent_api { enable_quit = true } there enables it'
          : 'no annotation vault.hashicorp.com/agent-enable-quit: "true"',
    };
  }
  return undefined;
}

/** Every well-known sidecar in the Pod (regular containers and native sidecars), but proa's own container. */
export function recognise(pod: Pod, own: string | undefined): KnownSidecar[] {
  const annotations = pod.metadata?.annotations ?? {};
  const regular = (pod.spec?.containers ?? []).filter((c) => c.name !== own).map((c) => recogniseOne(c, false, annotations));
  const native = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => recogniseOne(c, true, annotations));
  return [...regular, ...native].filter((k): k is KnownSidecar => k !== undefined);
}

/** A configured action targets this sidecar's endpoint: a host in this Pod, on its port. */
export function hasAction(k: KnownSidecar, urls: readonly URL[]): boolean {
  if (k.url === undefined) return false;
  const target = portOf(new URL(k.url));
  return urls.some((u) => isLocalHost(u.hostname) && portOf(u) === target);
}
