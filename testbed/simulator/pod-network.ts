// A simulated Pod's own network namespace, as every Pod of a cluster has: its containers
// share one loopback, and fixed ports (Istio's 15020, Linkerd's 4191...) never collide
// with another Pod's or with the host's. Needs root (unshare --net, nsenter) and `ip`.
// The namespace is held by pod-network-agent.mjs, which forwards the API server's
// address to the host through a unix socket and makes the kubelet's probes from inside.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:net';
import { forwarder } from '../forward.ts';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { node, root, tempDir } from '../paths.ts';

export interface ProbeResult {
  pass: boolean;
  detail: string;
}

/** What kubelet-probe.mjs takes: one probe, its target resolved. */
export interface ProbeRequest {
  kind: 'http' | 'tcp' | 'grpc';
  host: string;
  port: number;
  path?: string;
  scheme?: string;
  headers?: { name: string; value: string }[];
  service?: string;
  timeoutMs: number;
}

/** Whether this machine can give a Pod its own network namespace (root, unshare, nsenter, ip). */
export function podNetworksAvailable(): boolean {
  return spawnSync('unshare', ['--net', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0
    && spawnSync('nsenter', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Pods' addresses, one per namespace made here (each namespace is its own: they never meet). */
let made = 0;

export class PodNetwork {
  /**
   * The Pod's IP, on the namespace's loopback device: where the kubelet's probes go, as
   * they go to a real Pod's IP from the node. A sidecar that listens on 127.0.0.1 alone
   * is not reachable there, as in a cluster.
   */
  readonly podIp: string;
  readonly #agent: ChildProcess;
  readonly #bridge: Server;
  readonly #pending = new Map<number, (r: ProbeResult) => void>();
  #next = 0;
  readonly #ready: Promise<void>;

  private constructor(agent: ChildProcess, bridge: Server, podIp: string) {
    this.podIp = podIp;
    this.#agent = agent;
    this.#bridge = bridge;
    let ready!: () => void;
    this.#ready = new Promise((resolve, reject) => {
      ready = resolve;
      agent.once('exit', () => reject(new Error('the Pod network namespace could not be made (unshare --net, ip link set lo up)')));
    });
    createInterface({ input: agent.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number; event?: string } & ProbeResult;
      if (msg.event === 'ready') ready();
      if (msg.id === undefined) return;
      this.#pending.get(msg.id)?.({ pass: msg.pass, detail: msg.detail });
      this.#pending.delete(msg.id);
    });
  }

  /** A new namespace whose `apiHost:apiPort` reaches the API server at the same address on the host. */
  static async create(apiHost: string, apiPort: number): Promise<PodNetwork> {
    const socket = join(tempDir('proa-podnet-'), 'apiserver.sock');
    const bridge = forwarder({ host: apiHost, port: apiPort });
    bridge.listen(socket);
    await once(bridge, 'listening');
    const podIp = `10.244.${(process.pid % 250) + 1}.${(made++ % 250) + 2}`;
    const agent = spawn('unshare', ['--net', '--', 'sh', '-c', `ip link set lo up && ip addr add ${podIp}/32 dev lo && exec "$@"`, 'pod-network',
      node, join(root, 'testbed', 'simulator', 'pod-network-agent.mjs'), apiHost, String(apiPort), socket], { stdio: ['pipe', 'pipe', 'inherit'] });
    const net = new PodNetwork(agent, bridge, podIp);
    await net.#ready;
    return net;
  }

  /** The prefix that runs a command inside this namespace (nsenter execs in place: same PID). */
  enter(): string[] {
    return ['nsenter', `--net=/proc/${this.#agent.pid}/ns/net`, '--'];
  }

  /** An httpGet, tcpSocket or grpc probe, sent from inside the namespace as the kubelet's reach the Pod's IP. */
  probe(request: ProbeRequest): Promise<ProbeResult> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#agent.stdin!.write(JSON.stringify({ id, ...request }) + '\n');
    });
  }

  async stop(): Promise<void> {
    this.#agent.kill('SIGKILL');
    this.#bridge.close();
    for (const resolve of this.#pending.values()) resolve({ pass: false, detail: 'the Pod network is gone' });
    this.#pending.clear();
  }
}
