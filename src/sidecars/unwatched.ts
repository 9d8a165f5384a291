// The sidecars known without the Kubernetes API (no token, RBAC refused, the API
// unreachable): by their own endpoints alone, for the whole run. Ready when one round
// of probes finds every --wait-http/--wait-tcp endpoint ready (probes/endpoints.ts' gate); gone, after the shutdown
// actions, when every endpoint (those and the shutdown targets' host:port) refuses
// connections (probes/endpoints.ts). What needs the Pod's spec or status (--shutdown-auto, the
// restart policy, the grace period, native sidecars) is not known here.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import type { CommandResult, Signals } from '../command/supervise.ts';
import { reminders } from './reminders.ts';
import { timerMs } from '../shared/limits.ts';
import { EndpointGate, pollUntil, probeClosed, shutdownEndpoints, waitEndpoints, type Endpoint } from '../probes/endpoints.ts';
import type { ExitWaiter, Gate, Planned, SidecarView } from './view.ts';

export class Unwatched implements SidecarView {
  readonly deleted = false;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #endpoints: Endpoint[];
  /** What the wait already took of --ready-timeout before this view took over. */
  readonly #spentMs: number;

  constructor(config: Config, log: Logger, spentMs = 0) {
    this.#config = config;
    this.#log = log;
    this.#endpoints = waitEndpoints(config);
    this.#spentMs = spentMs;
    if (config.peers.length > 0) {
      log.warn('--peer needs the Pod\'s status, which proa cannot read without API access: this proa acts as if it were the only program of the Pod');
    }
    if (config.shutdownAuto) {
      log.warn('--shutdown-auto needs the Pod spec, which proa cannot read without API access: it adds no action; ' +
        'give each sidecar its action (--shutdown-http-post)');
    }
  }

  async waitUntilReady(signals: Signals): Promise<Gate> {
    const stopped = signals.whenStopped();
    const limit = this.#config.readyTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      if (limit !== undefined) timer = setTimeout(() => resolve('timeout'), timerMs(limit - this.#spentMs));
    });
    this.#log.info("waiting for the sidecars' endpoints to be ready", { endpoints: this.#endpoints.map((e) => e.name) });
    const gate = new EndpointGate(this.#endpoints, this.#log);
    let unsubscribe = (): void => {};
    const open = new Promise<'ready'>((resolve) => {
      unsubscribe = gate.onChange(() => gate.open && resolve('ready'));
    });
    gate.start();
    const remind = reminders((waitedMs) => this.#log.warn(`still waiting for the sidecars after ${Math.round(waitedMs / 1000)}s (reminder): ` +
      `${gate.blockers().join('; ')}`, { waitedS: Math.round(waitedMs / 1000) }));
    const verdict = await Promise.race([open, stopped.promise, timeout]);
    gate.stop();
    unsubscribe();
    remind.cancel();
    clearTimeout(timer);
    stopped.cancel();
    if (verdict === 'ready') {
      this.#log.info('all sidecar endpoints are ready', { endpoints: this.#endpoints.map((e) => e.name) });
      return { kind: 'ready' };
    }
    if (verdict === 'timeout') {
      this.#log.error(`sidecars not ready after ${limit}ms (--ready-timeout): not starting the command`);
      for (const line of gate.blockers()) this.#log.error(line);
      return { kind: 'ready-timeout', code: 5 };
    }
    this.#log.warn('stopped before the command started', { signal: verdict });
    return { kind: 'signal', signal: verdict };
  }

  /** The restart policy is the spec's: unknown here, so the sidecars are always shut down. */
  keepForRetry(_result: CommandResult): boolean {
    return false;
  }

  /** Peers need the Pod's status, which proa cannot read here: this proa acts as if alone. */
  settle(): Promise<'act'> {
    return Promise.resolve('act');
  }

  planned(): Planned {
    return { auto: [], graceMs: undefined, hostPid: false, fixes: new Map(), ports: [] };
  }

  beginShutdown(_commandCode: number | undefined): ExitWaiter | undefined {
    const seen = new Set<string>();
    const endpoints = [...this.#endpoints, ...shutdownEndpoints([...this.#config.httpGet, ...this.#config.httpPost])]
      .filter((e) => !seen.has(`${e.host}:${e.port}`) && seen.add(`${e.host}:${e.port}`));
    if (endpoints.length === 0) return undefined;
    if (this.#config.noExitWait) {
      this.#log.info('not waiting for the endpoints to close (--no-exit-wait)');
      return undefined;
    }
    return {
      byStatus: false,
      wait: async (deadline, stop, actions, bound) => {
        // The actions as usual first (retried until answered, within the bound): a port
        // that closes before its shutdown request is answered is a sidecar restarting.
        await Promise.race([actions, new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }))]);
        let answering = endpoints.map((e) => ({ endpoint: e.name, why: 'not probed yet' }));
        this.#log.info("waiting for the sidecars' endpoints to refuse connections", { endpoints: endpoints.map((e) => e.name), timeoutMs: Math.max(0, Math.ceil(deadline - performance.now())), bound });
        const closed = await pollUntil(endpoints, probeClosed, stop, (f) => { answering = [...f].map(([endpoint, why]) => ({ endpoint, why })); }, deadline);
        if (closed) {
          this.#log.info('every sidecar endpoint refuses connections: the sidecars have exited', { endpoints: endpoints.map((e) => e.name) });
          return { verdict: 'exited', running: [], answering: [] };
        }
        return { verdict: stop.aborted ? 'stopped' : 'timeout', running: [], answering };
      },
    };
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
