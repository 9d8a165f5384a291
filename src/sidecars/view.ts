// The one small interface through which the lifecycle knows its sidecars, whatever tells
// it: the watch on the Pod (sidecars.ts), the sidecars' own endpoints when the Pod cannot
// be watched (unwatched.ts), or the watch falling back to the endpoints (modes.ts).
import type { Outcome } from '../shared/attempts.ts';
import type { CommandResult, Signals } from '../command/supervise.ts';

/** Why proa stops before running the command; each has its exit code. */
export type Stop =
  | { kind: 'bad-spec'; code: 2 }
  | { kind: 'not-in-cluster'; code: 3 }
  | { kind: 'sidecar-failed'; code: 4 }
  | { kind: 'ready-timeout'; code: 5 }
  | { kind: 'deleted'; code: 6 }
  | { kind: 'signal'; signal: NodeJS.Signals };

export type Gate = { kind: 'ready' } | Stop;

/** How the wait for the sidecars' exit ended, and who was still running then. */
export interface ExitWait {
  /** 'deleted': the kubelet is stopping every container itself; waiting is pointless. 'failed': a bug in the wait. */
  verdict: 'exited' | 'deleted' | 'timeout' | 'stopped' | 'failed';
  /** Containers still running (by the Pod's status). */
  running: string[];
  /** Endpoints not refusing connections (without the Pod's status), each with what its last probe found. */
  answering?: { endpoint: string; why: string }[];
}

/** What the shutdown takes from the Pod, fixed before the command starts. */
export interface Planned {
  /** POST targets added by --shutdown-auto. */
  auto: readonly URL[];
  /** terminationGracePeriodSeconds, as a bound; undefined when the Pod was never seen. */
  graceMs: number | undefined;
  /** hostPID: true: --kill-all never runs. */
  hostPid: boolean;
  /** For a recognised sidecar's port: what enables its shutdown endpoint, named when a request there is refused. */
  fixes: ReadonlyMap<number, string>;
  /** The ports the Pod's other containers declare or probe: a refused target elsewhere is likely a wrong port. Empty: unknown. */
  ports: readonly number[];
}

export interface ExitWaiter {
  /**
   * Exits are seen in the Pod's status, where a sidecar the kubelet restarts shows up
   * again (so --kill keeps looking until the wait ends); false: judged by endpoints, and
   * --kill stops once every name was signalled.
   */
  byStatus: boolean;
  /**
   * Until `deadline` (performance.now()) or `stop`; `actions` settles with what the
   * shutdown actions achieved; `bound` says where the deadline comes from, for the log;
   * `answered` fills with the shutdown requests answered so far (host:port, probes/exit-signs.ts).
   */
  wait(deadline: number, stop: AbortSignal, actions: Promise<Outcome[]>, bound: string, answered: ReadonlySet<string>): Promise<ExitWait>;
}

export interface SidecarView {
  /** Until every awaited sidecar is ready, or the reason not to run the command. */
  waitUntilReady(signals: Signals): Promise<Gate>;
  /** The kubelet will run proa's container again for this code (its policy or rules): true to leave the sidecars up for the retry. */
  keepForRetry(result: CommandResult): boolean;
  planned(): Planned;
  /** The Pod's deletion has been seen. */
  readonly deleted: boolean;
  /**
   * Before the shutdown, with other programs of the Pod wrapped by proa (peers.ts): 'act'
   * when this proa stops the sidecars for all (after waiting for the others' programs,
   * unless `early`), 'leave' when another does. Without peers, 'act' at once.
   */
  settle(signals: Signals, early: boolean): Promise<'act' | 'leave'>;
  /**
   * Called as the shutdown begins (exits are judged from then on): the wait, or undefined
   * when there is no one to wait for. `commandCode`: the program's exit code, undefined when
   * it never ran (a sidecar's non-zero exit fails the Pod only where the program succeeded).
   */
  beginShutdown(commandCode: number | undefined): ExitWaiter | undefined;
  stop(): Promise<void>;
  /** What is still to tell the API (Events), within `ms`; none where nothing is queued. */
  flush?(ms: number): Promise<void>;
  /** proa's own container's terminationMessagePath from the Pod spec, once the spec is known. */
  terminationMessagePath?(): string | undefined;
}
