// The Pod as the watch shows it, now: the events turned into state (the latest Pod, the
// plan made from the first one, deletion, whether the watch is cut), the state lines
// that make a stuck Job explain itself, and `until`, on which the lifecycle's waits
// (ready-wait.ts, exit-wait.ts) are built. Decisions live in pod/.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { statusOf, type Pod } from '../shared/pod.ts';
import { describe, gracePeriodMs, isDeleting } from '../pod/status.ts';
import type { Plan, PlanError } from '../pod/plan.ts';
import { foundPod } from './found.ts';
import type { Identity } from '../kube/config.ts';
import { PodWatch, type Trouble, type WatchEvent } from '../kube/watch.ts';
import type { ApiClient } from '../kube/client.ts';
import type { Planned } from './view.ts';

export class WatchedPod {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #watch: PodWatch;
  readonly #detected: string | undefined;
  #pod: Pod | undefined;
  #plan: Plan | PlanError | undefined;
  #deleted = false;
  /** A DELETED event: every container, sidecars included, has stopped. */
  #gone = false;
  #states = new Map<string, string>();
  /** Shutdown actions added by --shutdown-auto for recognised sidecars. */
  #auto: URL[] = [];
  /** What enables each recognised sidecar's shutdown endpoint, by port. */
  #fixes = new Map<number, string>();
  #listeners = new Set<() => void>();
  readonly #troubles = new Set<(t: Trouble) => void>();
  /** This proa's liveness channel, open while it lives, when the Pod has peers (peers.ts). */
  #channel: { close(): void } | undefined;
  /** The watch cannot reach the API server right now (the exit wait's cue for the endpoints). */
  #cut = false;

  constructor(config: Config, log: Logger, client: ApiClient, identity: Identity, detected: string | undefined) {
    this.#config = config;
    this.#log = log;
    this.#detected = detected;
    this.#watch = new PodWatch(client, {
      pod: identity.pod, namespace: identity.namespace, timeoutSeconds: config.watchTimeoutSeconds,
    }, log, (e) => this.#onEvent(e), (t) => {
      if (t === 'broken') {
        this.#cut = true;
        this.wake();
      }
      for (const listener of [...this.#troubles]) listener(t);
    });
  }

  start(): void {
    this.#watch.start();
  }

  stop(): Promise<void> {
    this.#channel?.close();
    return this.#watch.stop();
  }

  /** Hears what may make the watch useless: 403, 401, the API unreachable for 10 s, any failure to reach it. */
  onTrouble(listener: (t: Trouble) => void): void {
    this.#troubles.add(listener);
  }

  /** Calls `listener` whenever `until`s look again; returns its removal. */
  observe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every `until` looks again (after a read's events, or when something else they depend on changed). */
  wake(): void {
    for (const wake of [...this.#listeners]) wake();
  }

  get pod(): Pod | undefined {
    return this.#pod;
  }

  get plan(): Plan | PlanError | undefined {
    return this.#plan;
  }

  /** True once the Pod's deletion has been seen (deletionTimestamp or DELETED). */
  get deleted(): boolean {
    return this.#deleted;
  }

  get gone(): boolean {
    return this.#gone;
  }

  get cut(): boolean {
    return this.#cut;
  }

  /** The API's standing problem, for reminders. */
  problem(): string | undefined {
    return this.#watch.problem();
  }

  /** POST targets --shutdown-auto added once the spec was seen. */
  get auto(): readonly URL[] {
    return this.#auto;
  }

  planned(): Planned {
    return { auto: [...this.#auto], graceMs: this.#pod ? gracePeriodMs(this.#pod).ms : undefined, hostPid: this.#pod?.spec?.hostPID === true, fixes: this.#fixes,
      ports: [...new Set([...(this.#pod?.spec?.initContainers ?? []), ...(this.#pod?.spec?.containers ?? [])]
        .filter((c) => c.name !== this.exitPlan()?.own).flatMap((c) => c.ports ?? []))] };
  }

  /** Whom to wait for: the plan, or on a spec proa could not follow, every other regular container. */
  exitPlan(): Plan | undefined {
    const p = this.#plan;
    return p && 'error' in p ? p.fallback : p;
  }

  #onEvent(event: WatchEvent): void {
    if (event.type === 'caught-up') {
      this.wake();
      return;
    }
    this.#cut = false;
    const pod = event.pod;
    if (event.type === 'deleted' || isDeleting(pod)) {
      if (!this.#deleted) this.#log.warn(event.type === 'deleted' ? 'the Pod was deleted' : 'the Pod is being deleted', { deletionTimestamp: pod.metadata?.deletionTimestamp ?? undefined });
      this.#deleted = true;
      if (event.type === 'deleted') this.#gone = true;
    }
    if (event.type === 'pod') {
      if (!this.#plan) this.#found(pod);
      this.#pod = pod;
      this.#logChanges(pod);
    }
  }

  /** The first sight of the Pod: the plan made once, and what it sets going (found.ts). */
  #found(pod: Pod): void {
    const f = foundPod(pod, this.#config, this.#log, this.#detected);
    this.#plan = f.plan;
    this.#auto = f.auto;
    this.#fixes = f.fixes;
    this.#channel = f.channel;
  }

  #logChanges(pod: Pod): void {
    const p = this.#plan;
    if (!p || 'error' in p) return;
    for (const s of p.awaited) {
      const status = statusOf(pod, s.name, s.native);
      const state = describe(status);
      if (this.#states.get(s.name) === state) continue;
      this.#states.set(s.name, state);
      const w = status?.state?.waiting;
      this.#log.info(`sidecar ${s.name}: ${state}`, {
        container: s.name, state, restartCount: status?.restartCount, message: w?.message,
      });
    }
  }

  /** Calls `check` on every Pod event until it returns a value. */
  until<T>(check: () => T | undefined, extra: Promise<T>[]): Promise<T> {
    let listener: (() => void) | undefined;
    const onPod = new Promise<T>((resolve) => {
      let settled = false;
      listener = () => {
        if (settled) return;
        const v = check();
        if (v !== undefined) {
          settled = true;
          resolve(v);
        }
      };
      this.#listeners.add(listener);
      listener();
    });
    return Promise.race([onPod, ...extra]).finally(() => listener && this.#listeners.delete(listener));
  }
}
