// Retrying a shutdown action: the schedule, and when to stop. Every action (shutdown/requests.ts,
// shutdown/kill.ts) is retried until it has done its work or its caller says stop (see
// shutdown/shutdown.ts for when that is).
//
// Back-off between attempts: 150 ms doubling to a 2 s cap, with equal jitter, starting
// over when the failure changes. A sidecar comes up within seconds; 2 s keeps the
// reaction prompt without hammering it.

const backoffBaseMs = 150;
const backoffCapMs = 2000;

/** When an action must stop retrying, and whether it may retry at all. */
export interface Attempts {
  /** false: one attempt (the Pod is being deleted, or --shutdown-timeout 0). */
  retry: boolean;
  /** performance.now() after which no new attempt starts. */
  deadline: number;
  /** Aborted when retrying is pointless (the sidecars are gone) or forbidden (a signal). */
  stop: AbortSignal;
  /** Aborted by a signal: also cuts the request in flight. Every action gets its first attempt otherwise. */
  interrupt: AbortSignal;
}

/** What an action achieved, for the last word when a sidecar survives. */
export interface Outcome {
  action: string;
  done: boolean;
  /** The last failure, when not done. */
  error?: string;
}

export function delay(attempt: number): number {
  const window = Math.min(backoffCapMs, backoffBaseMs * 2 ** attempt);
  return window / 2 + Math.random() * (window / 2);
}

/** Sleeps until `ms` pass, the deadline passes, or `stop` aborts; true if another attempt may start. */
export function pause(ms: number, a: Attempts): Promise<boolean> {
  const until = Math.min(ms, a.deadline - performance.now());
  if (a.stop.aborted || until <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      a.stop.removeEventListener('abort', done);
      resolve(!a.stop.aborted && performance.now() < a.deadline);
    };
    const timer = setTimeout(done, until);
    a.stop.addEventListener('abort', done);
  });
}
