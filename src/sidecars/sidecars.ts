// The view of the sidecars by the watch (watched.ts): the one SidecarView (view.ts)
// over the Pod as the API shows it, with proa's own probes beside the kubelet's word,
// the Events told as the story goes, and the waits of the lifecycle (ready-wait.ts,
// exit-wait.ts). Decisions live in pod/; this module only sequences them.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { specOf } from '../shared/pod.ts';
import { exitBaseline, type Passed } from '../pod/status.ts';
import { ownRestart } from '../pod/verdicts.ts';
import type { CommandResult, Signals } from '../command/supervise.ts';
import type { Identity } from '../kube/config.ts';
import type { Trouble } from '../kube/watch.ts';
import type { ApiClient } from '../kube/client.ts';
import { Recorder } from '../kube/recorder.ts';
import { eventOf, type Story } from '../report/story.ts';
import { Prober } from '../probes/prober.ts';
import type { EndpointGate } from '../probes/endpoints.ts';
import { exitSigns, SignWatch } from '../probes/exit-signs.ts';
import { WatchedPod } from './watched.ts';
import { settle } from './peers.ts';
import { waitReady, type Watching } from './ready-wait.ts';
import { waitForExit } from './exit-wait.ts';
import type { ExitWaiter, Gate, Planned, SidecarView } from './view.ts';

export class Sidecars implements SidecarView {
  /** The watched Pod, the endpoints' gate, proa's own probes: what the waits share. */
  readonly #w: Watching;

  /** The Job's story, told as Events on the Pod once it is known (--events on). */
  readonly #story: Story | undefined;
  #recorder: Recorder | undefined;

  constructor(config: Config, log: Logger, client: ApiClient, identity: Identity, detected: string | undefined, gate?: EndpointGate, story?: Story) {
    const watched = new WatchedPod(config, log, client, identity, detected);
    const prober = config.readyBy === 'probe' ? new Prober(log, watched) : undefined;
    const passed: Passed | undefined = prober && ((name, status) => prober.passed(name, status));
    this.#w = { config, log, watched, client, namespace: identity.namespace.value, gate, prober, passed };
    gate?.onChange(() => watched.wake());
    this.#story = config.events ? story : undefined;
  }

  start(): void {
    this.#w.gate?.start();
    if (this.#story) {
      const unobserve = this.#w.watched.observe(() => {
        if (this.#recorder || !this.#startEvents()) return;
        unobserve();
      });
    }
    this.#w.watched.start();
  }

  /** Once the Pod (its uid) and proa's container are known: the recorder, told every step from then on. */
  #startEvents(): boolean {
    const pod = this.#w.watched.pod;
    const p = this.#w.watched.exitPlan();
    const uid = pod?.metadata?.uid;
    if (!pod || !p || !uid || !this.#story) return false;
    const recorder = new Recorder(this.#w.client, this.#w.log, { pod: pod.metadata?.name ?? '', namespace: this.#w.namespace, uid, container: p.own });
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
    const [pod, p] = [this.#w.watched.pod, this.#w.watched.plan];
    return pod && p && !('error' in p) ? specOf(pod, p.own)?.terminationMessagePath : undefined;
  }

  /** Hears what may make the watch useless: 403, 401, the API unreachable for 10 s, any failure to reach it. */
  onTrouble(listener: (t: Trouble) => void): void {
    this.#w.watched.onTrouble(listener);
  }

  stop(): Promise<void> {
    this.#w.gate?.stop();
    this.#w.prober?.stop();
    return this.#w.watched.stop();
  }

  get deleted(): boolean {
    return this.#w.watched.deleted;
  }

  /** The watch has shown the Pod (its spec) at least once. */
  get seen(): boolean {
    return this.#w.watched.pod !== undefined;
  }

  /** The watch has shown the Pod and answers now. */
  get live(): boolean {
    return this.#w.watched.pod !== undefined && !this.#w.watched.cut;
  }

  /** Calls `listener` after every read of the watch; returns its removal. */
  observe(listener: () => void): () => void {
    return this.#w.watched.observe(listener);
  }

  planned(): Planned {
    return this.#w.watched.planned();
  }

  async settle(signals: Signals, early: boolean): Promise<'act' | 'leave'> {
    const planned = this.#w.watched.plan;
    const p = planned && 'error' in planned ? planned.fallback : planned;
    if (!p || p.peers.length === 0) return 'act';
    const order = (this.#w.watched.pod?.spec?.containers ?? []).map((c) => c.name).filter((n) => n === p.own || p.peers.includes(n));
    const { watched } = this.#w;
    return settle({ get pod() { return watched.pod; }, plan: p, get deleted() { return watched.deleted; }, until: (check, extra) => watched.until(check, extra) },
      order, signals, this.#w.log, early);
  }

  /** Waits until every awaited sidecar is ready, or for the reason not to run the command. */
  async waitUntilReady(signals: Signals): Promise<Gate> {
    // A signal that never aborts: never abandoned.
    return (await this.waitUnlessAbandoned(signals, new AbortController().signal)) as Gate;
  }

  /** The same wait, which ends without a word when `abandon` aborts: another view takes over (modes.ts). */
  waitUnlessAbandoned(signals: Signals, abandon: AbortSignal): Promise<Gate | { kind: 'abandoned' }> {
    return waitReady(this.#w, signals, abandon);
  }

  /**
   * When the kubelet will run proa's container again for the code proa exits with (the
   * Pod's OnFailure, the container's own policy or a restartPolicyRules rule), the retry
   * needs the sidecars: leave them running unless told otherwise or the Pod is going. A
   * RestartAllContainers rule has the kubelet kill every container at once, with no grace
   * period: a shutdown request would only race it.
   */
  keepForRetry(result: CommandResult): boolean {
    const p = this.#w.watched.plan;
    const pod = this.#w.watched.pod;
    if (!p || 'error' in p || !pod || this.#w.watched.deleted) return false;
    const r = ownRestart(pod, p.own, result.code);
    if (!r) return false;
    if (r.kind === 'restart-all') {
      this.#w.log.info(`the command exited ${result.code} and ${r.by} restarts every container of the Pod: the kubelet kills the sidecars ` +
        'at once and starts them all again, proa included, so proa sends no shutdown', { code: result.code, restartBy: r.by });
      return true;
    }
    if (this.#w.config.shutdownOnFailure) return false;
    this.#w.log.info(`the command exited ${result.code} and ${r.by} restarts this container: ` +
      'the sidecars stay up for the retry (--shutdown-on-failure shuts them down anyway)', { code: result.code, restartBy: r.by });
    return true;
  }

  /** Call before the shutdown actions: exits are judged against this moment. undefined: nobody to wait for. */
  beginShutdown(commandCode: number | undefined): ExitWaiter | undefined {
    const p = this.#w.watched.exitPlan();
    if (!this.#w.watched.pod || !p) return undefined;
    const baseline = exitBaseline(this.#w.watched.pod, p);
    if (baseline.size === 0) return undefined;
    const pod = this.#w.watched.pod;
    const urls = [...this.#w.config.httpGet, ...this.#w.config.httpPost, ...this.#w.watched.auto];
    const killing = this.#w.config.killAll || this.#w.config.kill.length > 0;
    return {
      byStatus: true,
      wait: (deadline, stop, actions, bound, answered) => waitForExit(this.#w, {
        baseline, deadline, stop, actions, bound, commandCode,
        signs: new SignWatch(exitSigns(pod, p.own, [...baseline.keys()], urls, killing), answered),
      }),
    };
  }
}
