// The mutating admission webhooks of the meshes and of Vault, as far as the examples
// need them: each adds its containers to a Pod the way its injector's template does
// (names, images, order, ports, probes, the environment its proxy reads), so that the
// examples carry the real annotations and not hand-written proxies. What is left out
// (security contexts, certificate volumes, lifecycle hooks, resources) does not change
// how a Job's containers start and stop; the simulator would only report it as ignored.
// Sources: Istio's injection template (manifests/charts/istio-control/istio-discovery/
// files/injection-template.yaml), Linkerd's proxy and proxy-init partials
// (charts/partials/templates), vault-k8s agent/container_sidecar.go and agent/config.go.
import type { Json } from '../api/fake-apiserver.ts';

const fieldRef = (name: string, fieldPath: string): Json => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/** Istio: the label or annotation sidecar.istio.io/inject: "true". Native sidecar (Istio 1.27 and later on Kubernetes 1.29 and later) unless sidecar.istio.io/nativeSidecar: "false". */
function istio(pod: Json, image = 'docker.io/istio/proxyv2:1.28.1'): string[] {
  const meta = pod.metadata ?? {};
  if (meta.labels?.['sidecar.istio.io/inject'] !== 'true' && meta.annotations?.['sidecar.istio.io/inject'] !== 'true') return [];
  const native = meta.annotations?.['sidecar.istio.io/nativeSidecar'] !== 'false';
  const init = {
    name: 'istio-init', image,
    args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'],
  };
  const healthz = { path: '/healthz/ready', port: 15021 };
  const proxy: Json = {
    name: 'istio-proxy', image,
    args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local', '--proxyLogLevel=warning'],
    env: [fieldRef('POD_NAME', 'metadata.name'), fieldRef('POD_NAMESPACE', 'metadata.namespace'), fieldRef('INSTANCE_IP', 'status.podIP')],
    ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
    readinessProbe: { httpGet: healthz, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    startupProbe: { httpGet: healthz, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
  };
  pod.spec.initContainers = [init, ...(native ? [{ ...proxy, restartPolicy: 'Always' }] : []), ...(pod.spec.initContainers ?? [])];
  if (!native) pod.spec.containers = [...pod.spec.containers, proxy];
  return native ? ['istio-init', 'istio-proxy (native sidecar)'] : ['istio-init', 'istio-proxy'];
}

/** Linkerd: the annotation linkerd.io/inject: enabled. The proxy goes first among the containers. */
function linkerd(pod: Json): string[] {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations['linkerd.io/inject'] !== 'enabled') return [];
  const init = {
    name: 'linkerd-init', image: 'cr.l5d.io/linkerd/proxy-init:v2.4.3',
    args: ['--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', '2102', '--inbound-ports-to-ignore', '4190,4191'],
  };
  const env: Json[] = [
    { name: 'LINKERD2_PROXY_LOG', value: 'warn,linkerd=info' },
    { name: 'LINKERD2_PROXY_ADMIN_LISTEN_ADDR', value: '0.0.0.0:4191' },
    { name: 'LINKERD2_PROXY_INBOUND_LISTEN_ADDR', value: '0.0.0.0:4143' },
    fieldRef('_pod_ns', 'metadata.namespace'),
  ];
  if (annotations['config.linkerd.io/proxy-admin-shutdown'] === 'enabled') env.push({ name: 'LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED', value: 'true' });
  const proxy = {
    name: 'linkerd-proxy', image: 'cr.l5d.io/linkerd/proxy:stable-2.14.10', env,
    ports: [{ containerPort: 4143, name: 'linkerd-proxy' }, { containerPort: 4191, name: 'linkerd-admin' }],
    readinessProbe: { httpGet: { path: '/ready', port: 4191 }, initialDelaySeconds: 2, timeoutSeconds: 1 },
  };
  pod.spec.initContainers = [init, ...(pod.spec.initContainers ?? [])];
  pod.spec.containers = [proxy, ...pod.spec.containers];
  return ['linkerd-init', 'linkerd-proxy'];
}

/** Vault Agent Injector: vault.hashicorp.com/agent-inject: "true". An init container that renders the secrets first (agent-pre-populate), then the agent as the last container. */
function vault(pod: Json): string[] {
  const a = pod.metadata?.annotations ?? {};
  if (a['vault.hashicorp.com/agent-inject'] !== 'true') return [];
  const config = (init: boolean): string => {
    const c: Json = {
      auto_auth: { method: { type: 'kubernetes', mount_path: 'auth/kubernetes', config: { role: a['vault.hashicorp.com/role'] } } },
      exit_after_auth: init,
      pid_file: '/home/vault/.pid',
      vault: { address: 'https://vault.vault.svc:8200' },
      template: Object.entries(a as Record<string, string>).filter(([k]) => k.startsWith('vault.hashicorp.com/agent-inject-secret-'))
        .map(([k, v]) => ({ destination: `/vault/secrets/${k.slice('vault.hashicorp.com/agent-inject-secret-'.length)}`, contents: `{{ with secret "${v}" }}...{{ end }}` })),
    };
    // agent/config.go: agent-enable-quit puts agent_api { enable_quit } on the cache
    // listener, making one on agent-cache-listener-port (8200) if there is none.
    if (!init && a['vault.hashicorp.com/agent-enable-quit'] === 'true') {
      c.listener = [{ type: 'tcp', address: `127.0.0.1:${a['vault.hashicorp.com/agent-cache-listener-port'] ?? '8200'}`, tls_disable: true, agent_api: { enable_quit: true } }];
      c.cache = {};
    }
    return Buffer.from(JSON.stringify(c)).toString('base64');
  };
  const container = (name: string, init: boolean): Json => ({
    name, image: 'hashicorp/vault:1.20.4',
    command: ['/bin/sh', '-ec'],
    args: ['echo ${VAULT_CONFIG?} | base64 -d > /home/vault/config.json && vault agent -config=/home/vault/config.json'],
    env: [{ name: 'VAULT_LOG_LEVEL', value: 'info' }, { name: 'VAULT_CONFIG', value: config(init) }],
  });
  const added: string[] = [];
  if (a['vault.hashicorp.com/agent-pre-populate'] !== 'false') {
    pod.spec.initContainers = [...(pod.spec.initContainers ?? []), container('vault-agent-init', true)];
    added.push('vault-agent-init');
  }
  if (a['vault.hashicorp.com/agent-pre-populate-only'] !== 'true') {
    pod.spec.containers = [...pod.spec.containers, container('vault-agent', false)];
    added.push('vault-agent');
  }
  return added;
}

/** Admits a Pod as a cluster with Istio, Linkerd and the Vault Agent Injector installed would; returns what was injected. */
export function admit(pod: Json): string[] {
  return [...istio(pod), ...linkerd(pod), ...vault(pod)];
}
