// The fastest sign that a sidecar has stopped, ahead of the kubelet's word. The kubelet
// notices a container's exit about a second late (its PLEG relist), then needs as long
// again to notice proa's own: two lags in series where one would do. So once a sidecar
// has answered its shutdown request, proa judges it stopped when every endpoint it is
// known by refuses connections: its readinessProbe's target and the shutdown URLs on its
// ports (declared, probed, or a recognised sidecar's shutdown port); in a shared PID namespace, also when none of its processes is left (and then
// a closed port with a process behind it is not a stop).
//
// Where the kubelet's word is still awaited, for at most `wordGraceMs` past the sign:
// a sidecar that a kill action may have ended (a signal it does not handle makes its exit
// code 128 + N, which fails the Pod: the warning needs the code), and one whose restart
// policy or rules decide by its exit code (it may be started again).
//
// What is given up, and the README says so: a sidecar that closes its ports and keeps
// running (draining) is taken as stopped; the Pod still does not complete until it ends,
// and `kubectl get pod` shows it running.
import { readdirSync, readFileSync } from 'node:fs';
import { restartAfter } from '../pod/restarts.ts';
import { specOf, statusOf, type Pod } from '../shared/pod.ts';
import { playable, probeTarget } from './target.ts';
import { recognise } from '../pod/known.ts';
import { hostOf, isLocalHost, portOf, requestKey } from '../shared/urls.ts';
import type { Endpoint } from './endpoints.ts';

/** How long past its sign a sidecar that needs the kubelet's word is waited for. */
export const wordGraceMs = 2000;

export interface Signs {
  /** Where the sidecar listens: all refusing, after one of its requests was answered, is the sign. */
  endpoints: Endpoint[];
  /** The shutdown requests that reach it (by host:port): one answered arms the sign; none: its processes alone decide. */
  requests: string[];
  /**
   * In a shared PID namespace, the ID of its container as its processes' cgroup names it:
   * none of them left is part of the sign (a sidecar that closes its port and keeps
   * running is then not taken as stopped).
   */
  containerId: string | undefined;
  /** Why the kubelet's word is still awaited after the sign; undefined: the sign is enough. */
  needsWord: string | undefined;
}

const key = (host: string, port: number): string => `${host}:${port}`;

/**
 * For each sidecar awaited for exit, what can tell proa it stopped. Left out, the
 * kubelet's word alone deciding: a sidecar none of whose requests is among `urls`
 * (outside a shared PID namespace), and in one, a sidecar whose container ID is unknown.
 */
export function exitSigns(pod: Pod, own: string, names: readonly string[], urls: readonly URL[], killing: boolean): Map<string, Signs> {
  const out = new Map<string, Signs>();
  const podIp = pod.status?.podIP;
  const shared = pod.spec?.shareProcessNamespace === true;
  // A recognised sidecar's shutdown port is its own though the spec does not declare it (Istio's 15020, the Cloud SQL proxy's admin port).
  const known = recognise(pod, own).filter((k) => k.url !== undefined);
  for (const name of names) {
    const spec = specOf(pod, name);
    const ports = new Set([...(spec?.ports ?? []), ...known.filter((k) => k.container === name).map((k) => portOf(new URL(k.url!)))]);
    const mine = urls.filter((u) => isLocalHost(u.hostname) && ports.has(portOf(u)));
    const containerId = shared ? statusOf(pod, name, false)?.containerID?.replace(/^[a-z0-9-]+:\/\//, '') : undefined;
    if (shared ? !containerId || !/^[0-9a-f]{12,}$/.test(containerId) : mine.length === 0) continue;
    const endpoints = new Map<string, Endpoint>();
    for (const u of mine) endpoints.set(requestKey(u), { name: requestKey(u), host: hostOf(u), port: portOf(u) });
    const probe = playable(spec);
    if (!('why' in probe) && podIp && mine.length > 0) {
      const t = probeTarget(pod, name, probe.spec);
      if (!('why' in t)) {
        const host = t.kind === 'http' ? hostOf(t.url) : t.host;
        const port = t.kind === 'http' ? portOf(t.url) : t.port;
        endpoints.set(key(host, port), { name: key(host, port), host, port });
      }
    }
    out.set(name, { endpoints: [...endpoints.values()], requests: mine.map(requestKey), containerId, needsWord: needsWord(pod, name, killing) });
  }
  return out;
}

/**
 * The PIDs in sight whose cgroup names container `id` (a shared PID namespace shows every
 * process of the Pod, and each one's /proc/PID/cgroup its container's cgroup, whose name
 * carries the container's ID under containerd and CRI-O alike).
 */
function processesOf(id: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cgroup`, 'utf8').includes(id)) pids.push(Number(e));
    } catch {
      // Gone between the listing and the read: not one of them any more.
    }
  }
  return pids;
}

function needsWord(pod: Pod, name: string, killing: boolean): string | undefined {
  if (killing) return 'a kill action may have ended it: its exit code comes from the kubelet';
  const restarting = [0, 1, 137, 143].map((code) => restartAfter(pod, name, code)).find((d) => d.action !== 'none');
  return restarting ? `${restarting.by} may start it again` : undefined;
}

const pollMs = 200;

/**
 * Polls, every 200 ms, the endpoints of each sidecar one of whose requests has been
 * answered, until it is judged stopped or `stop` aborts; `onChange` hears each sign and
 * each end of a word's grace.
 */
export class SignWatch {
  readonly #signs: ReadonlyMap<string, Signs>;
  readonly #answered: ReadonlySet<string>;
  /** When each sidecar's sign was seen (performance.now()). */
  readonly #seen = new Map<string, number>();

  constructor(signs: ReadonlyMap<string, Signs>, answered: ReadonlySet<string>) {
    this.#signs = signs;
    this.#answered = answered;
  }

  get size(): number {
    return this.#signs.size;
  }

  /** Stopped by its sign: seen, and either no word is needed or its grace has passed. */
  stopped(name: string): boolean {
    const at = this.#seen.get(name);
    if (at === undefined) return false;
    return this.#signs.get(name)?.needsWord === undefined || performance.now() - at >= wordGraceMs;
  }

  async run(stop: AbortSignal, onSign: (name: string, s: Signs) => void, onChange: () => void): Promise<void> {
    const { probeClosed } = await import('./endpoints.ts');
    // A container none of whose processes can be seen now (another layout of cgroups, a
    // test bed without them) cannot be judged by them later: the kubelet's word alone.
    const signs = [...this.#signs].filter(([, s]) => s.containerId === undefined || processesOf(s.containerId).length > 0);
    while (!stop.aborted) {
      const open = signs.filter(([name, s]) => !this.#seen.has(name) && (s.requests.length === 0 || s.requests.some((r) => this.#answered.has(r))));
      const results = await Promise.all(open.map(async ([name, s]) => {
        if (s.containerId && processesOf(s.containerId).length > 0) return [name, s, false] as const;
        const answers = await Promise.all(s.endpoints.map((ep) => probeClosed(ep, 500)));
        return [name, s, answers.every((a) => a === undefined)] as const;
      }));
      if (stop.aborted) return;
      for (const [name, s, closed] of results) {
        if (!closed) continue;
        this.#seen.set(name, performance.now());
        onSign(name, s);
        if (s.needsWord) setTimeout(onChange, wordGraceMs + 5).unref();
      }
      if (results.some(([, , closed]) => closed)) onChange();
      if (signs.every(([name]) => this.#seen.has(name))) return;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
