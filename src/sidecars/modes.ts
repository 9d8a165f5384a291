// sidecars/: knowing the sidecars: the one SidecarView (view.ts) and each way of knowing
// them: the watch (sidecars.ts over watched.ts), the endpoints alone (unwatched.ts), the
// peers (peers.ts). This module chooses among them.
//
// How proa knows its sidecars, decided at start and said in one info line:
//
// - the watch: API access and no --wait-http/--wait-tcp (as always);
// - the watch and the endpoints: API access and endpoints given; the command starts
//   when both agree. If the API refuses or cannot be reached before the command starts
//   (a 403 on the Pod, a 401 after the token was read afresh, no answer for 10 s: an
//   egress policy), the endpoints alone decide the readiness, saying why (with the Role
//   to apply). A refusal is for good: the watch stops. An outage is not: the watch keeps
//   trying with its back-off, and once it answers again (one info line says so) it is
//   back in charge of everything after the readiness (the exit wait). Whatever needs the
//   Pod's spec (the other programs wrapped by proa, the restart policy, --shutdown-auto)
//   follows the spec wherever the watch has seen it, so a Pod with peers never has a
//   peer act alone;
// - the endpoints alone: no API access (no token, no KUBERNETES_SERVICE_HOST) and
//   endpoints given;
// - neither: no API access and no endpoints: exit 3, naming the flags that would do.
// Without endpoints, 401 and 403 keep being retried: RBAC often lands after the Pod.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import type { CommandResult, Signals } from '../command/supervise.ts';
import type { Sidecars } from './sidecars.ts';
import type { Trouble } from '../kube/watch.ts';
import { Unwatched } from './unwatched.ts';
import { waitEndpoints } from '../probes/endpoints.ts';
import { rbacYaml } from '../kube/rbac.ts';
import { detectContainer, loadClusterAccess, NotInCluster, resolveIdentity, type Identity } from '../kube/config.ts';
import type { ExitWaiter, Gate, Planned, SidecarView } from './view.ts';
import type { Story } from '../report/story.ts';

/** The view of the sidecars for this run; undefined when there is none (proa exits 3, said why). */
export async function connect(config: Config, env: NodeJS.ProcessEnv, log: Logger, story?: Story): Promise<SidecarView | undefined> {
  const endpoints = waitEndpoints(config);
  let access;
  try {
    access = loadClusterAccess(env, config.serviceAccountDir);
  } catch (err) {
    if (!(err instanceof NotInCluster)) throw err;
    const token = env.KUBERNETES_SERVICE_HOST
      ? `${err.message}: in a Pod this usually means automountServiceAccountToken: false (on the Pod or its ServiceAccount)`
      : `not running in Kubernetes: ${err.message}`;
    if (endpoints.length > 0) {
      log.warn(`no Kubernetes API access (${token}): the sidecars are judged by their endpoints alone for this run`);
      log.info('mode: the endpoints alone', { mode: 'endpoints', endpoints: endpoints.map((e) => e.name) });
      return new Unwatched(config, log);
    }
    const what = env.KUBERNETES_SERVICE_HOST ? `cannot use the Kubernetes API: ${token}; set it to true for this Pod` : token;
    log.error(`${what}. Without API access, give the sidecars' endpoints to wait on (--wait-http URL, --wait-tcp HOST:PORT); ` +
      'to run without waiting, pass --no-wait (shutdown actions still run) or set PROA_DISABLED=1 (nothing but the command)');
    return undefined;
  }
  const identity = resolveIdentity(config, env);
  log.info('watching this Pod', {
    pod: identity.pod.value, podSource: identity.pod.source,
    namespace: identity.namespace.value, namespaceSource: identity.namespace.source,
    api: `https://${access.host}:${access.port}`,
  });
  const [{ Sidecars }, { ApiClient }, { EndpointGate }] = await Promise.all([import('./sidecars.ts'), import('../kube/client.ts'), import('../probes/endpoints.ts')]);
  const client = new ApiClient(access);
  const gate = endpoints.length > 0 ? new EndpointGate(endpoints, log) : undefined;
  const watched = new Sidecars(config, log, client, identity, config.container ? undefined : detectContainer(), gate, story);
  log.info(gate ? 'mode: the watch and the endpoints (the command starts when both agree)' : 'mode: the watch', {
    mode: gate ? 'watch+endpoints' : 'watch', ...(gate ? { endpoints: endpoints.map((e) => e.name) } : {}),
  });
  const view = gate ? new FallingBack(watched, config, log, identity, () => client.serviceAccount()) : watched;
  watched.start();
  return view;
}

/** The watch with the endpoints as a gate, falling back to the endpoints alone when the API refuses or is gone. */
class FallingBack implements SidecarView {
  readonly #watched: Sidecars;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #fallBack = new AbortController();
  readonly #since = performance.now();
  #unwatched: Unwatched | undefined;
  /** The readiness wait is over: what told it stays in charge of it. */
  #decided = false;
  /** Why the endpoints took over; 'unreachable' alone leaves the watch running, to come back. */
  #reason: Trouble | undefined;
  #back = false;

  constructor(watched: Sidecars, config: Config, log: Logger, identity: Identity, account: () => string | undefined) {
    this.#watched = watched;
    this.#config = config;
    this.#log = log;
    watched.onTrouble((t) => this.#trouble(t, identity, account));
    watched.observe(() => {
      if (this.#reason !== 'unreachable' || this.#back || !watched.live) return;
      this.#back = true;
      this.#log.info('the Kubernetes API answers again: the watch is back in charge of the Pod (the exit wait, the other programs of this Pod); ' +
        'the readiness stays as the endpoints decided it', { mode: 'watch+endpoints' });
    });
  }

  #trouble(t: Trouble, identity: Identity, account: () => string | undefined): void {
    if (t === 'broken' || this.#decided || this.#fallBack.signal.aborted) return;
    const sa = account() ?? `${identity.namespace.value}/(this Pod's service account)`;
    const role = `; to use the watch, apply:\n${rbacYaml(account(), identity.namespace.value)}`;
    const why = t === 'forbidden' ? `the Kubernetes API refuses service account ${sa} the Pod (403)${role}`
      : t === 'unauthorized' ? `the Kubernetes API rejects the service-account token (401), also read afresh${role}`
        : 'the Kubernetes API server has not answered for 10 s (an egress policy, or the API server down)';
    this.#reason = t;
    this.#fallBack.abort();
    if (t === 'unreachable') {
      this.#log.warn(`${why}. The sidecars' readiness is judged by their endpoints alone; the watch keeps trying, and takes over again once the API answers`);
      this.#log.info('mode: the endpoints, until the API answers', { mode: 'endpoints', reason: t });
      return;
    }
    this.#log.warn(`${why}. The sidecars are judged by their endpoints alone for the rest of this run`);
    this.#log.info('mode: the endpoints alone', { mode: 'endpoints', reason: t });
    void this.#watched.stop().catch(() => {});
  }

  /** What follows the Pod's spec: the watch wherever it has seen it, else the endpoints. */
  #bySpec(): SidecarView {
    return !this.#unwatched || this.#watched.seen ? this.#watched : this.#unwatched;
  }

  async waitUntilReady(signals: Signals): Promise<Gate> {
    const verdict = await this.#watched.waitUnlessAbandoned(signals, this.#fallBack.signal);
    if (verdict.kind !== 'abandoned') {
      this.#decided = true;
      return verdict;
    }
    this.#unwatched = new Unwatched(this.#config, this.#log, performance.now() - this.#since);
    const gate = await this.#unwatched.waitUntilReady(signals);
    this.#decided = true;
    return gate;
  }

  keepForRetry(result: CommandResult): boolean {
    return this.#bySpec().keepForRetry(result);
  }

  flush(ms: number): Promise<void> {
    return this.#watched.flush(ms);
  }

  terminationMessagePath(): string | undefined {
    return this.#watched.terminationMessagePath();
  }

  planned(): Planned {
    return this.#bySpec().planned();
  }

  settle(signals: Signals, early: boolean): Promise<'act' | 'leave'> {
    return this.#bySpec().settle(signals, early);
  }

  get deleted(): boolean {
    return this.#watched.deleted;
  }

  /** The exit wait: the watch while it answers, else the endpoints. */
  beginShutdown(commandCode: number | undefined): ExitWaiter | undefined {
    return (!this.#unwatched || this.#watched.live ? this.#watched : this.#unwatched).beginShutdown(commandCode);
  }

  stop(): Promise<void> {
    return this.#watched.stop();
  }
}
