// The lifecycle's waits over the watched Pod (watched.ts): ready before the command,
// exited after it, and what a stuck wait says. Decisions live in pod.ts; this module
// only sequences them.
// With --wait-http/--wait-tcp the endpoints are an extra gate (the command starts when
// both agree). During the exit wait, when the watch is cut (a mesh proxy that carried
// it has quit), the sidecars are judged by their local endpoints refusing connections,
// once every shutdown request was answered; the watch, if it comes back, stays the
// authority.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { exitBaseline, exits, ownRestartCount, readiness, type ExitBaseline, type Passed } from '../pod/status.ts';
import { restartAfter } from '../pod/restarts.ts';
import { specOf, statusOf } from '../shared/pod.ts';
import type { Plan } from '../pod/plan.ts';
import { blockingFields, reminderMessage, reminders, whatBlocks } from './reminders.ts';
import { timerMs } from '../shared/limits.ts';
import type { CommandResult, Signals } from '../command/supervise.ts';
import type { Identity } from '../kube/config.ts';
import type { Trouble } from '../kube/watch.ts';
import type { ApiClient } from '../kube/client.ts';
import { WatchedPod } from './watched.ts';
import { Prober } from '../probes/prober.ts';
import { eventOf, type Story } from '../report/story.ts';
import { Recorder } from '../kube/recorder.ts';
import { settle } from './peers.ts';
import { ownRestart, sidecarExit } from '../pod/verdicts.ts';
import type { Outcome } from '../shared/attempts.ts';
import { pollUntil, probeClosed, shutdownEndpoints, waitEndpoints, type EndpointGate } from '../probes/endpoints.ts';
import { exitSigns, SignWatch, wordGraceMs } from '../probes/exit-signs.ts';
import type { ExitWait, ExitWaiter, Gate, Planned, SidecarView, Stop } from './view.ts';

/**
 * Resolves after the event loop's next poll phase: data already received by the socket
 * has been read and its events applied by then. Two turns: the first immediate runs in
 * this turn's check phase, the second after the next poll.
 */
function afterPendingReads(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

export class Sidecars implements SidecarView {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #watched: WatchedPod;
  readonly #gate: EndpointGate | undefined;
  readonly #client: ApiClient;
  readonly #namespace: string;
  /** proa's own readiness probes (--ready-by probe), while the readiness wait lasts. */
  readonly #prober: Prober | undefined;
  readonly #passed: Passed | undefined;

  /** The Job's story, told as Events on the Pod once it is known (--events on). */
  readonly #story: Story | undefined;
  #recorder: Recorder | undefined;

  constructor(config: Config, log: Logger, client: ApiClient, identity: Identity, detected: string | undefined, gate?: EndpointGate, story?: Story) {
    this.#config = config;
    this.#log = log;
    this.#gate = gate;
    this.#client = client;
    this.#namespace = identity.namespace.value;
    this.#watched = new WatchedPod(config, log, client, identity, detected);
    const prober = config.readyBy === 'probe' ? new Prober(log, this.#watched) : undefined;
    this.#prober = prober;
    this.#passed = prober && ((name, status) => prober.passed(name, status));
    gate?.onChange(() => this.#watched.wake());
    this.#story = config.events ? story : undefined;
  }

  start(): void {
    this.#gate?.start();
    if (this.#story) {
      const unobserve = this.#watched.observe(() => {
        if (this.#recorder || !this.#startEvents()) return;
        unobserve();
      });
    }
    this.#watched.start();
  }

  /** Once the Pod (its uid) and proa's container are known: the recorder, told every step from then on. */
  #startEvents(): boolean {
    const pod = this.#watched.pod;
    const p = this.#watched.exitPlan();
    const uid = pod?.metadata?.uid;
    if (!pod || !p || !uid || !this.#story) return false;
    const recorder = new Recorder(this.#client, this.#log, { pod: pod.metadata?.name ?? '', namespace: this.#namespace, uid, container: p.own });
    this.#recorder = recorder;
    // The first step came with the Pod itself (its plan): told now.
    if (this.#story.sidecars.length > 0) {
      const e = eventOf({ kind: 'waiting', sidecars: [...this.#story.sidecars] });
      recorder.record(e.type, e.reason, e.action, e.note, e.series);
    }
    this.#story.onStep((step) => {
      if (step.kind === 'waiting') return;
      const e = eventOf(step);
      recorder.record(e.type, e.reason, e.action, e.note, e.series);
    });
    return true;
  }

  /** Events still queued, posted within `ms` at most (at once when none is). */
  flush(ms: number): Promise<void> {
    return this.#recorder?.flush(ms) ?? Promise.resolve();
  }

  terminationMessagePath(): string | undefined {
    const [pod, p] = [this.#watched.pod, this.#watched.plan];
    return pod && p && !('error' in p) ? specOf(pod, p.own)?.terminationMessagePath : undefined;
  }

  /** Hears what may make the watch useless: 403, 401, the API unreachable for 10 s, any failure to reach it. */
  onTrouble(listener: (t: Trouble) => void): void {
    this.#watched.onTrouble(listener);
  }

  stop(): Promise<void> {
    this.#gate?.stop();
    this.#prober?.stop();
    return this.#watched.stop();
  }

  get deleted(): boolean {
    return this.#watched.deleted;
  }

  /** The watch has shown the Pod (its spec) at least once. */
  get seen(): boolean {
    return this.#watched.pod !== undefined;
  }

  /** The watch has shown the Pod and answers now. */
  get live(): boolean {
    return this.#watched.pod !== undefined && !this.#watched.cut;
  }

  /** Calls `listener` after every read of the watch; returns its removal. */
  observe(listener: () => void): () => void {
    return this.#watched.observe(listener);
  }

  planned(): Planned {
    return this.#watched.planned();
  }

  async settle(signals: Signals, early: boolean): Promise<'act' | 'leave'> {
    const planned = this.#watched.plan;
    const p = planned && 'error' in planned ? planned.fallback : planned;
    if (!p || p.peers.length === 0) return 'act';
    const order = (this.#watched.pod?.spec?.containers ?? []).map((c) => c.name).filter((n) => n === p.own || p.peers.includes(n));
    const watched = this.#watched;
    return settle({ get pod() { return watched.pod; }, plan: p, get deleted() { return watched.deleted; }, until: (check, extra) => watched.until(check, extra) },
      order, signals, this.#log, early);
  }

  /** Waits until every awaited sidecar is ready, or for the reason not to run the command. */
  async waitUntilReady(signals: Signals): Promise<Gate> {
    // A signal that never aborts: never abandoned.
    return (await this.waitUnlessAbandoned(signals, new AbortController().signal)) as Gate;
  }

  /** The same wait, which ends without a word when `abandon` aborts: another view takes over (modes.ts). */
  async waitUnlessAbandoned(signals: Signals, abandon: AbortSignal): Promise<Gate | { kind: 'abandoned' }> {
    const stopped = signals.whenStopped();
    const timeoutMs = this.#config.readyTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), timerMs(timeoutMs));
    });
    this.#log.info('waiting for the sidecars to be ready');
    this.#prober?.start();
    const remind = reminders((waitedMs) => this.#remind(waitedMs));
    const abandoned = new Promise<'abandoned'>((resolve) => {
      if (abandon?.aborted) resolve('abandoned');
      abandon?.addEventListener('abort', () => resolve('abandoned'), { once: true });
    });
    const ended = [stopped.promise.then((signal) => ({ kind: 'signal', signal }) as const), timeout, abandoned];
    let verdict: { kind: 'ready' } | Stop | 'timeout' | 'abandoned';
    for (;;) {
      verdict = await this.#watched.until<{ kind: 'ready' } | Stop | 'timeout' | 'abandoned'>(() => this.#readyCheck(), ended);
      if (verdict === 'timeout' || verdict === 'abandoned' || verdict.kind !== 'ready') break;
      // A newer status may already sit in the socket (a sidecar flapping right after the
      // last one became ready): let one turn of the event loop read it before deciding.
      await afterPendingReads();
      const again = this.#readyCheck();
      if (again !== undefined) {
        verdict = again;
        break;
      }
      this.#log.info('a newer status arrived before the command started: waiting again');
    }
    const p = this.#watched.plan;
    this.#gate?.stop();
    this.#prober?.stop();
    if (verdict === 'abandoned') {
      remind.cancel();
      clearTimeout(timer);
      stopped.cancel();
      return { kind: 'abandoned' };
    }
    if (verdict !== 'timeout' && verdict.kind === 'ready' && p && !('error' in p)) {
      this.#log.info(p.awaited.length === 0 ? 'no sidecars to wait for' : 'all sidecars are ready', { sidecars: p.awaited.map((s) => s.name), by: this.#readyBy(p.awaited) });
    }
    remind.cancel();
    clearTimeout(timer);
    stopped.cancel();
    if (verdict === 'timeout') {
      this.#log.error(`sidecars not ready after ${this.#config.readyTimeoutMs}ms (--ready-timeout): not starting the command`);
      for (const b of this.#blockers()) this.#log.error(b.line, b.fields);
      await this.#probeFailures();
      return { kind: 'ready-timeout', code: 5 };
    }
    if (verdict.kind === 'signal') this.#log.warn('stopped before the command started', { signal: verdict.signal });
    return verdict;
  }

  /** The kubelet's last probe failure of each sidecar still not ready (its Unhealthy Events), or where to find them. */
  async #probeFailures(): Promise<void> {
    const pod = this.#watched.pod;
    const p = this.#watched.plan;
    const uid = pod?.metadata?.uid;
    if (!pod || !p || 'error' in p || !uid) return;
    const r = readiness(pod, p, this.#passed);
    if (r.kind !== 'waiting') return;
    const { lastProbeFailures } = await import('../kube/unhealthy.ts');
    const found = await lastProbeFailures(this.#client, this.#namespace, uid, r.notReady);
    if (typeof found === 'string') {
      this.#log.info(`the kubelet's probe failures are in kubectl describe pod ${pod.metadata?.name ?? ''}: ${found}`);
      return;
    }
    for (const name of r.notReady) {
      const f = found.get(name);
      if (f) this.#log.error(`sidecar ${name}: the kubelet's last probe failure (${f.count} in all, last at ${f.at}): ${f.message}`, { container: name, count: f.count, at: f.at });
    }
  }

  /** A reminder while stuck: its own message, so it is not read as a new event. */
  #blockers(): ReturnType<typeof whatBlocks> {
    const gate = this.#gate && !this.#gate.open ? this.#gate.blockers().map((line) => ({ line, fields: {} })) : [];
    return [...whatBlocks(this.#watched.pod, this.#watched.plan, this.#watched.problem(), this.#passed, (name) => this.#prober?.lastAnswer(name)), ...gate];
  }

  #remind(waitedMs: number): void {
    const blocking = this.#blockers();
    this.#log.warn(reminderMessage(waitedMs, blocking, this.#watched.pod?.metadata?.name), {
      waitedS: Math.round(waitedMs / 1000), ...blockingFields(blocking),
    });
  }

  /** Who called each sidecar ready: the kubelet, or proa's probe ahead of it. */
  #readyBy(awaited: readonly { name: string; native: boolean }[]): Record<string, string> {
    const pod = this.#watched.pod;
    return Object.fromEntries(awaited.map((s) => {
      const status = pod && statusOf(pod, s.name, s.native);
      return [s.name, status?.ready === true ? 'kubelet' : "proa's probe"];
    }));
  }

  #readyCheck(): { kind: 'ready' } | Stop | undefined {
    if (this.#watched.deleted) {
      this.#log.warn('the Pod is being deleted before the command started: not starting it');
      return { kind: 'deleted', code: 6 };
    }
    const pod = this.#watched.pod;
    const p = this.#watched.plan;
    if (!pod || !p) return undefined;
    if ('error' in p) {
      this.#log.error(p.error);
      return { kind: 'bad-spec', code: 2 };
    }
    const r = readiness(pod, p, this.#passed);
    if (r.kind === 'ready') return this.#gate && !this.#gate.open ? undefined : r;
    if (r.kind === 'failed') {
      const t = r.terminated;
      const by = restartAfter(pod, r.name, t.exitCode).by;
      const fields: Record<string, unknown> = { container: r.name, exitCode: t.exitCode, reason: t.reason, restartBy: by };
      const restarts = ownRestartCount(pod, p);
      if (restarts > 0) {
        fields.hint = `proa's container "${p.own}" has restarted ${restarts} time(s): the previous attempt shut the sidecars down, ` +
          `and ${by} does not start a container that exited ${t.exitCode} again. ` +
          "Use restartPolicy: Never and let the Job's backoffLimit retry with a fresh Pod.";
      }
      this.#log.error(`sidecar ${r.name} terminated and will not be restarted: not starting the command`, fields);
      return { kind: 'sidecar-failed', code: 4 };
    }
    return undefined;
  }

  /**
   * When the kubelet will run proa's container again for the code proa exits with (the
   * Pod's OnFailure, the container's own policy or a restartPolicyRules rule), the retry
   * needs the sidecars: leave them running unless told otherwise or the Pod is going. A
   * RestartAllContainers rule has the kubelet kill every container at once, with no grace
   * period: a shutdown request would only race it.
   */
  keepForRetry(result: CommandResult): boolean {
    const p = this.#watched.plan;
    const pod = this.#watched.pod;
    if (!p || 'error' in p || !pod || this.#watched.deleted) return false;
    const r = ownRestart(pod, p.own, result.code);
    if (!r) return false;
    if (r.kind === 'restart-all') {
      this.#log.info(`the command exited ${result.code} and ${r.by} restarts every container of the Pod: the kubelet kills the sidecars ` +
        'at once and starts them all again, proa included, so proa sends no shutdown', { code: result.code, restartBy: r.by });
      return true;
    }
    if (this.#config.shutdownOnFailure) return false;
    this.#log.info(`the command exited ${result.code} and ${r.by} restarts this container: ` +
      'the sidecars stay up for the retry (--shutdown-on-failure shuts them down anyway)', { code: result.code, restartBy: r.by });
    return true;
  }

  /** Call before the shutdown actions: exits are judged against this moment. undefined: nobody to wait for. */
  beginShutdown(commandCode: number | undefined): ExitWaiter | undefined {
    const p = this.#watched.exitPlan();
    if (!this.#watched.pod || !p) return undefined;
    const baseline = exitBaseline(this.#watched.pod, p);
    if (baseline.size === 0) return undefined;
    const pod = this.#watched.pod;
    const urls = [...this.#config.httpGet, ...this.#config.httpPost, ...this.#watched.auto];
    const killing = this.#config.killAll || this.#config.kill.length > 0;
    return {
      byStatus: true,
      wait: (deadline, stop, actions, bound, answered) => this.#waitForExit(baseline, deadline, stop, actions, bound, commandCode,
        new SignWatch(exitSigns(pod, p.own, [...baseline.keys()], urls, killing), answered)),
    };
  }

  /**
   * The mesh's case: the watch is cut while the sidecars stop. Once every action was a
   * request and each was answered, the sidecars are judged by their local endpoints (the
   * shutdown URLs' and the wait endpoints'): all refusing connections means exited.
   */
  async #judgedByEndpoints(actions: Promise<Outcome[]>, deadline: number, stop: AbortSignal): Promise<'exited' | undefined> {
    const outcomes = await actions;
    const byRequest = !this.#config.killAll && this.#config.kill.length === 0 && outcomes.length > 0 && outcomes.every((o) => o.done);
    const endpoints = [...shutdownEndpoints([...this.#config.httpGet, ...this.#config.httpPost, ...this.#watched.auto]), ...waitEndpoints(this.#config)];
    if (!byRequest || endpoints.length === 0 || stop.aborted) return undefined;
    this.#log.info('the Kubernetes API cannot be reached while the sidecars stop (a mesh proxy that carried it has quit?): ' +
      'judging them by their endpoints until it answers again', { endpoints: endpoints.map((e) => e.name) });
    const closed = await pollUntil(endpoints, probeClosed, stop, () => {}, deadline);
    if (closed) this.#log.info('every sidecar endpoint refuses connections: the sidecars have exited', { endpoints: endpoints.map((e) => e.name) });
    return closed ? 'exited' : undefined;
  }

  /**
   * Regular containers this wait was not for (--ignore'd ones) that have not terminated:
   * a shutdown request meant for one of them may not be answered yet (it listens late),
   * and ending the shutdown now would leave it, and the Pod, running. So once the awaited
   * sidecars have exited, the actions go on until every one is done, those containers
   * have stopped, or the bound passes.
   */
  async #whileUnwaitedRun(p: Plan, baseline: ExitBaseline, actions: Promise<Outcome[]>, ends: Promise<unknown>[]): Promise<void> {
    const unwaited = (): string[] => {
      const pod = this.#watched.pod;
      if (!pod || this.#watched.gone || this.#watched.deleted) return [];
      return (pod.spec?.containers ?? []).map((c) => c.name)
        .filter((n) => n !== p.own && !p.peers.includes(n) && !baseline.has(n) && statusOf(pod, n, false)?.state?.terminated === undefined);
    };
    const others = unwaited();
    if (others.length === 0) return;
    this.#log.info(`the awaited sidecars have exited; shutdown requests not yet answered go on while ${others.join(', ')} runs (not awaited for exit)`, { running: others });
    await Promise.race([actions, ...ends, this.#watched.until(() => (unwaited().length === 0 ? true : undefined), [])]);
  }

  /** Watches until every awaited sidecar has exited, the deadline passes, or `stop` aborts. */
  async #waitForExit(baseline: ExitBaseline, deadline: number, stop: AbortSignal, actions: Promise<Outcome[]>, bound: string, commandCode: number | undefined,
    signs: SignWatch): Promise<ExitWait> {
    const p = this.#watched.exitPlan()!;
    const total = baseline.size;
    let reported = -1;
    const warned = new Set<string>();
    let running = [...baseline.keys()];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timerMs(deadline - performance.now())); });
    const stopped = new Promise<'stopped'>((resolve) => {
      if (stop.aborted) resolve('stopped');
      stop.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    const planned = this.#watched.plan;
    this.#log.info('waiting for the sidecars to exit', {
      sidecars: running, timeoutMs: Math.ceil(deadline - performance.now()), bound,
      // A spec proa could not follow: why these are the ones waited for.
      ...(planned && 'error' in planned ? { because: `the Pod spec could not be followed (${planned.error}), so every regular container but proa's own is awaited` } : {}),
    });
    // Judged by the endpoints only while the watch is cut: an event from a watch that
    // answers again ends that judging, and the watch decides again.
    const over = new AbortController();
    let judging: AbortController | undefined;
    const cutOff = new Promise<'exited'>((resolve) => {
      const look = (): void => {
        if (this.#watched.cut && !judging) {
          const mine = (judging = new AbortController());
          void this.#judgedByEndpoints(actions, deadline, AbortSignal.any([stop, over.signal, mine.signal])).then((v) => {
            if (v === 'exited') resolve(v);
            else if (judging === mine) judging = undefined;
          });
        } else if (!this.#watched.cut && judging) {
          judging.abort();
          judging = undefined;
        }
      };
      const unobserve = this.#watched.observe(look);
      look();
      over.signal.addEventListener('abort', unobserve, { once: true });
    });
    // The fastest sign of each sidecar's stop, ahead of the kubelet's word (exit-signs.ts).
    if (signs.size > 0) {
      void signs.run(AbortSignal.any([stop, over.signal]), (name, s) => {
        if (!running.includes(name)) return;
        const how = [s.requests.length > 0 ? 'its endpoints refuse connections after its shutdown request was answered' : '', s.containerId ? 'none of its processes is left' : '']
          .filter(Boolean).join(', and ');
        this.#log.info(`sidecar ${name} has stopped: ${how}` +
          (s.needsWord ? `; waiting up to ${wordGraceMs / 1000}s for the kubelet's word (${s.needsWord})` : ''), { container: name, endpoints: s.endpoints.map((e) => e.name) });
      }, () => this.#watched.wake());
    }
    const verdict = await this.#watched.until<ExitWait['verdict']>(() => {
      if (this.#watched.gone) {
        running = [];
        return 'exited';
      }
      if (this.#watched.deleted) return 'deleted';
      const r = exits(this.#watched.pod!, p, baseline);
      // A sidecar its sign has judged stopped is running no longer, for proa.
      r.running = r.running.filter((n) => !signs.stopped(n));
      running = r.running;
      for (const e of r.exited) {
        if (warned.has(e.name)) continue;
        warned.add(e.name);
        const said = sidecarExit(this.#watched.pod!, p.own, e.name, e.exitCode, e.reason, commandCode);
        if (said) this.#log[said.level](said.message, said.fields);
      }
      if (total - r.running.length !== reported) {
        reported = total - r.running.length;
        const bySign = [...baseline.keys()].filter((n) => signs.stopped(n) && !r.exited.some((e) => e.name === n));
        this.#log.info(`${reported}/${total} sidecars exited`, { running: r.running, ...(bySign.length > 0 ? { stoppedBySign: bySign } : {}) });
      }
      return r.running.length === 0 ? 'exited' : undefined;
    }, [timeout, stopped, cutOff]);
    over.abort();
    if (verdict === 'exited') await this.#whileUnwaitedRun(p, baseline, actions, [timeout, stopped]);
    clearTimeout(timer);
    if (verdict === 'stopped') this.#log.info('stopped waiting for the sidecars to exit', { running });
    if (verdict === 'deleted') this.#log.info('the Pod is being deleted: the kubelet stops the sidecars; not waiting for them', { running });
    return { verdict, running };
  }
}
