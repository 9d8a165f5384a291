// probes/: asking the sidecars themselves, beside the API: their readinessProbes run by
// proa (this module, target.ts, handlers.ts), their own endpoints (endpoints.ts), and
// the signs that they stopped (exit-signs.ts).
//
// proa's own readiness probes, beside the watch: the kubelet probes every periodSeconds
// (10 s by default) and its verdict then takes a status write and a watch event to reach
// proa, so a sidecar that serves at once is called ready seconds late. proa sends the
// same probe (target.ts, handlers.ts) from inside the Pod, at most every
// 200 ms per container (5 attempts a second, each bounded by the smaller of 1 s and the
// probe's timeoutSeconds), and a container counts as ready when the kubelet says so or
// when proa's probe has passed successThreshold times in a row in this run of it.
//
// What holds a probe back, as the kubelet's prober worker does: the container not
// running, its initialDelaySeconds since it started, a startupProbe not yet passed (the
// kubelet's `started`), and no Pod IP yet. None is sent once the container counts as
// ready, and a success belongs to one run of the container (its containerID): a restart
// starts the count again.
import type { Logger } from '../shared/log.ts';
import { sleep } from '../shared/limits.ts';
import { specOf, statusOf, type ContainerStatus, type Pod } from '../shared/pod.ts';
import type { Plan, PlanError, Sidecar } from '../pod/plan.ts';
import { describeTarget, playable, probeTarget, type Playable, type ProbeTarget } from './target.ts';
import { attempt, type Answer } from './handlers.ts';
import { tcpAttempt } from './endpoints.ts';

/** What the prober reads of the watched Pod (sidecars/watched.ts). */
export interface ProbedPod {
  readonly pod: Pod | undefined;
  readonly plan: Plan | PlanError | undefined;
  /** Calls `listener` after each read of the watch; returns its removal. */
  observe(listener: () => void): () => void;
  wake(): void;
}

const perAttemptMs = 200;
const maxAttemptMs = 1000;
/** The "bound to 127.0.0.1 only" check is one extra connection, at most this often. */
const loopbackCheckMs = 1000;

const portOf = (t: ProbeTarget): number => (t.kind === 'http' ? Number(t.url.port) || (t.url.protocol === 'https:' ? 443 : 80) : t.port);

interface Run {
  containerID: string;
  successes: number;
  ready: boolean;
}

export class Prober {
  readonly #log: Logger;
  readonly #watched: ProbedPod;
  readonly #abort = new AbortController();
  readonly #runs = new Map<string, Run>();
  /** The last answer of each container's probe, with where it went: for reminders and the timeout's error. */
  readonly #last = new Map<string, string>();
  readonly #loopbackSaid = new Set<string>();
  #started = false;

  constructor(log: Logger, watched: ProbedPod) {
    this.#log = log;
    this.#watched = watched;
  }

  start(): void {
    const unobserve = this.#watched.observe(() => this.#begin());
    this.#abort.signal.addEventListener('abort', unobserve, { once: true });
    this.#begin();
  }

  stop(): void {
    this.#abort.abort();
  }

  /** proa's probe has passed for this run of the container (`status`, as the Pod shows it now). */
  passed(name: string, status: ContainerStatus | undefined): boolean {
    const run = this.#runs.get(name);
    return run?.ready === true && status?.state?.running !== undefined && status.containerID === run.containerID;
  }

  /** The last thing proa's probe of `name` got, as `GET http://...: HTTP 503`. */
  lastAnswer(name: string): string | undefined {
    return this.#last.get(name);
  }

  /** Once the plan is known: one loop per awaited container whose probe proa can run. */
  #begin(): void {
    const pod = this.#watched.pod;
    const plan = this.#watched.plan;
    if (this.#started || !pod || !plan || 'error' in plan || this.#abort.signal.aborted) return;
    this.#started = true;
    for (const s of plan.awaited) {
      if (plan.peers.includes(s.name)) continue;
      const p = playable(specOf(pod, s.name));
      if ('why' in p) {
        if (p.why !== 'no readinessProbe') this.#log.info(`sidecar ${s.name}: readiness by the kubelet only (${p.why})`, { container: s.name });
        continue;
      }
      void this.#loop(s, p);
    }
  }

  async #loop(s: Sidecar, p: Playable): Promise<void> {
    const signal = this.#abort.signal;
    let lastStart = -Infinity;
    let lastLoopback = -Infinity;
    let loopbackOnly = 0;
    let named: string | undefined;
    /** What held the probe back, said once each. */
    const said = new Set<string>();
    const timeoutMs = Math.min(maxAttemptMs, Math.max(1, p.spec.timeoutSeconds ?? 1) * 1000);
    while (!signal.aborted) {
      const pod = this.#watched.pod!;
      const status = statusOf(pod, s.name, s.native);
      const held = this.#held(status, p);
      if (held === 'started' && !said.has(held)) {
        said.add(held);
        this.#log.info(`sidecar ${s.name}: proa probes once the kubelet reports it started (it has a startupProbe)`, { container: s.name });
      }
      if (held !== undefined) {
        await this.#nextChange(typeof held === 'number' ? held : undefined);
        continue;
      }
      const target = probeTarget(pod, s.name, p.spec);
      if ('why' in target) {
        if (!target.waiting) {
          this.#log.info(`sidecar ${s.name}: readiness by the kubelet only (${target.why})`, { container: s.name });
          return;
        }
        if (!said.has('ip')) {
          said.add('ip');
          this.#log.info(`sidecar ${s.name}: proa probes once the Pod has an IP (the Pod's status has none yet)`, { container: s.name });
        }
        await this.#nextChange();
        continue;
      }
      const where = describeTarget(target);
      if (named !== where) {
        named = where;
        this.#log.info(`sidecar ${s.name}: proa probes its readiness too: ${where}`, { container: s.name, probe: where });
      }
      await sleep(lastStart + perAttemptMs - performance.now(), signal);
      if (signal.aborted) return;
      lastStart = performance.now();
      const answer = await attempt(target, timeoutMs);
      if (signal.aborted) return;
      this.#record(s, status!.containerID ?? '', p, where, answer);
      if (!answer.refused) loopbackOnly = 0;
      else if (performance.now() - lastLoopback >= loopbackCheckMs && !this.#loopbackSaid.has(s.name)) {
        lastLoopback = performance.now();
        // Said only when two checks a second apart agree: a sidecar that binds its port
        // between the Pod IP's refusal and the loopback's check is starting, not mistaken.
        loopbackOnly = (await this.#loopbackOnly(target)) ? loopbackOnly + 1 : 0;
        if (loopbackOnly >= 2) this.#sayLoopbackOnly(s.name, target);
      }
    }
  }

  /** Why no probe now: 'event' or 'started' (wait for the next status), a delay in ms, or undefined: probe. */
  #held(status: ContainerStatus | undefined, p: Playable): 'event' | 'started' | number | undefined {
    const startedAt = status?.state?.running?.startedAt;
    if (!status?.state?.running || status.ready === true || this.passed(status.name, status)) return 'event';
    if (p.gatedByStartup && status.started !== true) return 'started';
    const delayMs = (p.spec.initialDelaySeconds ?? 0) * 1000;
    if (delayMs > 0) {
      const since = startedAt ? Date.now() - Date.parse(startedAt) : NaN;
      // The kubelet compares whole seconds since the start (worker.go); a start time it did
      // not give cannot be judged: wait for one.
      if (Number.isNaN(since)) return 'event';
      if (Math.trunc(since / 1000) * 1000 < delayMs) return Math.max(50, delayMs - since);
    }
    return undefined;
  }

  #record(s: Sidecar, containerID: string, p: Playable, where: string, answer: Answer): void {
    let run = this.#runs.get(s.name);
    if (!run || run.containerID !== containerID) {
      run = { containerID, successes: 0, ready: false };
      this.#runs.set(s.name, run);
    }
    this.#last.set(s.name, `${where}: ${answer.detail}`);
    if (!answer.ok) {
      run.successes = 0;
      return;
    }
    run.successes++;
    if (run.successes < Math.max(1, p.spec.successThreshold ?? 1)) return;
    run.ready = true;
    const status = statusOf(this.#watched.pod!, s.name, s.native);
    if (status?.ready !== true) {
      this.#log.info(`sidecar ${s.name}: ready by proa's probe (${where}: ${answer.detail}); the kubelet has not reported it yet`, {
        container: s.name, probe: where, answer: answer.detail,
      });
    }
    this.#watched.wake();
  }

  /** Whether 127.0.0.1 accepts what the Pod's IP refused: the kubelet's probe would never pass. */
  async #loopbackOnly(t: ProbeTarget): Promise<boolean> {
    const host = t.kind === 'http' ? t.url.hostname : t.host;
    if (host === '127.0.0.1' || host === '::1' || host === '[::1]') return false;
    return (await tcpAttempt('127.0.0.1', portOf(t), 300)) === undefined;
  }

  #sayLoopbackOnly(name: string, t: ProbeTarget): void {
    if (this.#loopbackSaid.has(name)) return;
    this.#loopbackSaid.add(name);
    const host = t.kind === 'http' ? t.url.hostname : t.host;
    const port = portOf(t);
    this.#log.warn(`sidecar ${name} accepts connections on 127.0.0.1:${port} but refuses them on the Pod's IP ${host}, where the kubelet's ` +
      `readinessProbe goes: it will never be ready. Make it listen on 0.0.0.0 (or the Pod's IP), not on 127.0.0.1 alone`, { container: name, port });
  }

  /** Until the watch reads again, `ms` passes, or the prober stops. */
  #nextChange(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#abort.signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        unobserve();
        this.#abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const unobserve = this.#watched.observe(done);
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.#abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}
