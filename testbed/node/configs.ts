// The real node's configuration files, every path under one run directory. Each setting
// that is not a default says why.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pauseImage, registryHosts } from '../images/catalog.ts';
import { addresses } from './addresses.ts';
import { cgroupRootFor } from './cgroups.ts';

export interface Layout {
  run: string;
  pki: string;
  logs: string;
  containerdSock: string;
  /** The kubelet's cgroup root, made (and removed) by the launcher in every v1 hierarchy. */
  cgroupRoot: string;
}

export function layout(run: string): Layout {
  return {
    run, pki: join(run, 'pki'), logs: join(run, 'logs'),
    containerdSock: join(run, 'containerd', 'containerd.sock'),
    cgroupRoot: cgroupRootFor(run),
  };
}

export function writeConfigs(l: Layout, cgroupV1: boolean): { containerd: string; kubelet: string; registry: string } {
  const dir = (...p: string[]): string => {
    const d = join(l.run, ...p);
    mkdirSync(d, { recursive: true });
    return d;
  };
  // Every registry the images are named under is served by ours, inside the namespace:
  // a mirror whose `server` is ours, so nothing is ever asked of the real host.
  for (const host of registryHosts) {
    writeFileSync(join(dir('certs.d', host), 'hosts.toml'),
      `server = "http://${addresses.registry}"\n\n[host."http://${addresses.registry}"]\n  capabilities = ["pull", "resolve"]\n`);
  }
  writeFileSync(join(dir('cni', 'conf'), '10-proa-node.conflist'), JSON.stringify({
    cniVersion: '0.4.0', name: 'proa-node',
    plugins: [{
      type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: addresses.podSubnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: dir('cni', 'ipam') },
    }],
  }, null, 2));
  const containerd = join(dir('containerd'), 'config.toml');
  writeFileSync(containerd, `version = 2
root = "${dir('containerd', 'root')}"
state = "${dir('containerd', 'state')}"
# Snapshotters this machine cannot use would only log errors.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${l.containerdSock}"

[ttrpc]
  address = "${l.containerdSock}.ttrpc"

[debug]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir('containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # root here lacks CAP_SYS_RESOURCE: without this runc fails every sandbox
  # ("can't get final child's PID from pipe: EOF"; really: oom_score_adj denied).
  restrict_oom_score_adj = true
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(l.run, 'cni', 'conf')}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${join(l.run, 'certs.d')}"
`);
  const kubelet = join(dir('kubelet'), 'config.yaml');
  writeFileSync(kubelet, JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration',
    // This kind of machine has cgroup v1 only; the kubelet refuses it unless told.
    ...(cgroupV1 ? { failCgroupV1: false } : {}),
    cgroupDriver: 'cgroupfs', cgroupRoot: l.cgroupRoot,
    containerRuntimeEndpoint: `unix://${l.containerdSock}`,
    address: addresses.node, readOnlyPort: 0, healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: join(l.pki, 'ca.crt') } },
    authorization: { mode: 'AlwaysAllow' },
    podLogsDir: dir('pod-logs'),
    volumePluginDir: dir('kubelet', 'volume-plugins'),
    // No cluster DNS and no host resolver: nothing a Pod resolves may leave the namespace.
    resolvConf: '', clusterDomain: 'cluster.local',
    // A test machine's disk is shared with everything else: never evict or collect images for it.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99,
    failSwapOn: false, serializeImagePulls: false, rotateCertificates: false,
    // The Pod worker acts on status changes at once; this is only the fallback resync.
    syncFrequency: '10s',
    localStorageCapacityIsolation: false,
  }, null, 2));
  const registry = join(dir('registry'), 'config.yml');
  writeFileSync(registry, JSON.stringify({
    version: 0.1, log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: dir('registry', 'data') }, delete: { enabled: false } },
    http: { addr: addresses.registry, secret: 'proa-test-bed' },
  }));
  return { containerd, kubelet, registry };
}
