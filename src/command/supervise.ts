// command/: the program proa runs, supervised (this module); inspector.ts keeps SIGUSR1
// from opening Node's inspector.
//
// One child, supervised by tini's rules:
// - TERM, INT, HUP, QUIT, USR1, USR2 and WINCH are forwarded to the child while it runs.
//   CHLD, PIPE and URG are never forwarded (Node ignores PIPE; we listen for neither).
// - With no child (before it starts, after it exits), TERM/INT/HUP/QUIT mean "stop":
//   the first one is remembered and wakes whoever waits; USR1/USR2/WINCH are ignored.
//   Listening for them at all matters when proa is PID 1: the kernel drops signals to
//   PID 1 that have no handler, and Node would otherwise die of the others.
// - Exit code: the child's; 128 + N when it died of signal N; 127 when the command is
//   not found; 126 when it cannot be executed.
// - Node has no waitpid(-1): orphaned grandchildren are not reaped when proa is PID 1
//   (the README says what to do about it).
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../shared/log.ts';

const forwarded: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
const stopping: ReadonlySet<NodeJS.Signals> = new Set(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);

export function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/** A wait registered in `waiters` (resolved at once with `already`, if given), and its cancel. */
function waitIn(waiters: Set<(signal: NodeJS.Signals) => void>, already: NodeJS.Signals | undefined): { promise: Promise<NodeJS.Signals>; cancel: () => void } {
  let waiter: ((s: NodeJS.Signals) => void) | undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    if (already) return resolve(already);
    waiter = resolve;
    waiters.add(resolve);
  });
  return { promise, cancel: () => waiter && waiters.delete(waiter) };
}

export class Signals {
  #child: ChildProcess | undefined;
  #stop: NodeJS.Signals | undefined;
  #waiters = new Set<(signal: NodeJS.Signals) => void>();
  #nextWaiters = new Set<(signal: NodeJS.Signals) => void>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
    for (const signal of forwarded) process.on(signal, () => this.#receive(signal));
  }

  /** The first stopping signal that arrived while no child ran. */
  get stop(): NodeJS.Signals | undefined {
    return this.#stop;
  }

  /** Resolves on a stopping signal with no child running (at once if one came already). */
  whenStopped(): { promise: Promise<NodeJS.Signals>; cancel: () => void } {
    return waitIn(this.#waiters, this.#stop);
  }

  /** Resolves on the next stopping signal with no child running, a second one included. */
  next(): { promise: Promise<NodeJS.Signals>; cancel: () => void } {
    return waitIn(this.#nextWaiters, undefined);
  }

  attach(child: ChildProcess): void {
    this.#child = child;
  }

  detach(): void {
    this.#child = undefined;
  }

  #receive(signal: NodeJS.Signals): void {
    const child = this.#child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      this.#log.info('forwarding signal to the command', { signal, pid: child.pid });
      try {
        process.kill(child.pid, signal);
      } catch {
        // ESRCH: it exited a moment ago; its exit event is on the way.
      }
      return;
    }
    if (!stopping.has(signal)) {
      this.#log.debug('ignoring signal: no command is running', { signal });
      return;
    }
    const next = [...this.#nextWaiters];
    this.#nextWaiters.clear();
    for (const wake of next) wake(signal);
    if (this.#stop) {
      this.#log.info('received another signal: stopping at once', { signal });
      return;
    }
    this.#stop = signal;
    this.#log.info('received signal: stopping', { signal });
    for (const wake of this.#waiters) wake(signal);
    this.#waiters.clear();
  }
}

export interface CommandResult {
  /** What proa exits with. */
  code: number;
  /** false when the command could not be started (126/127). */
  started: boolean;
  pid?: number;
  signal?: NodeJS.Signals;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + signalNumber(signal);
  return code ?? 0;
}

/** Spawns the command with `env` and proa's stdio, resolved through `env`'s PATH. */
export function runCommand(command: string, args: string[], signals: Signals, log: Logger, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    const cannotStart = (err: NodeJS.ErrnoException): void => {
      signals.detach();
      const notFound = err.code === 'ENOENT';
      const code = notFound ? 127 : 126;
      log.error(notFound ? `command not found: ${command}` : `command cannot be executed: ${command}`, {
        command, error: err.code ?? err.message, exitCode: code,
        ...(notFound && !command.includes('/') ? { path: env.PATH ?? '' } : {}),
      });
      resolve({ code, started: false });
    };
    try {
      child = spawn(command, args, { stdio: 'inherit', env });
    } catch (err) {
      cannotStart(err as NodeJS.ErrnoException);
      return;
    }
    // Attach at once: a signal between spawn() and the 'spawn' event is the child's.
    if (child.pid !== undefined) signals.attach(child);
    child.once('error', cannotStart);
    child.once('spawn', () => log.info('command started', { command, args, pid: child.pid }));
    child.once('exit', (code, signal) => {
      signals.detach();
      const result: CommandResult = { code: exitCodeOf(code, signal), started: true, pid: child.pid };
      if (signal) result.signal = signal;
      // `code` (what proa will exit with) only where it says more than the exit code: a signal.
      log.info('command exited', { command, exitCode: code ?? undefined, signal: signal ?? undefined, code: signal ? result.code : undefined });
      resolve(result);
    });
  });
}
