// The lifecycle: wait for the sidecars, run the command, shut the sidecars down, wait
// for them to exit, and exit with the command's code. Every path out shuts down, a bug
// in proa included: the safety net below catches what the lifecycle did not.
import './command/inspector.ts';
import { writeSync } from 'node:fs';
import { parseCli, usage, UsageError, type Config } from './cli/cli.ts';
import { createLogger, type Logger } from './shared/log.ts';
import { runCommand, Signals, signalNumber, type CommandResult } from './command/supervise.ts';
import { hostPidFix, hostPidNamespace } from './shutdown/kill.ts';
import { prepareShutdown, shutDown, type ShutdownInput } from './shutdown/shutdown.ts';
import type { Stop } from './sidecars/view.ts';
import { redact } from './shared/urls.ts';
import { versionLine } from './shared/version.ts';
import { Story } from './report/story.ts';
import { leaveTerminationMessage, terminationLogPath } from './report/termination.ts';

/** At exit, the most spent posting Events still queued (none when none is). */
const eventsFlushMs = 300;

/** Where the lifecycle is, for the safety net: what has started and what is owed. */
interface Progress {
  command?: Promise<CommandResult>;
  owed?: number;
  /** The safety net has taken over: the command must not start any more. */
  failed: boolean;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const invocation = parseCli(argv, env);
  if (invocation.kind === 'help') return print(usage());
  if (invocation.kind === 'version') return print(versionLine() + '\n');
  if (invocation.kind === 'check') {
    const { check, render } = await import('./check/check.ts');
    const { report, source } = await check(invocation.config, invocation.bare, env);
    const code = print(render(report, source, invocation.jsonAsked));
    return code !== 0 ? code : report.blocking ? 1 : 0;
  }
  if (invocation.kind === 'disabled') {
    const log = createLogger(invocation.logFormat, invocation.logLevel);
    return (await runCommand(invocation.command, invocation.args, new Signals(log), log, commandEnv(env, invocation.keepProaEnv))).code;
  }
  const config = invocation.config;
  refuseHostKill(config);
  // The log, as written, is also the story the termination message tells (report/story.ts).
  const story = new Story();
  const log = story.tap(createLogger(config.logFormat, config.logLevel));
  const run: ShutdownInput = { config, log, signals: new Signals(log), sidecars: undefined };
  const progress: Progress = { failed: false };
  safetyNet(run, progress, story);
  const code = await lifecycle(config, env, log, run, progress, story);
  leaveSummary(story, code, run);
  // The last Events were queued as the sidecars stopped: a short bound on the rest.
  await run.sidecars?.flush?.(eventsFlushMs).catch(() => {});
  return code;
}

/**
 * The story's summary as the termination message (report/termination.ts), at the spec's
 * terminationMessagePath for proa's container where known. Never throws: the safety net
 * leaves it too.
 */
function leaveSummary(story: Story, code: number, run: ShutdownInput): void {
  let fromSpec: string | undefined;
  try {
    fromSpec = run.sidecars?.terminationMessagePath?.();
  } catch {
    fromSpec = undefined;
  }
  leaveTerminationMessage(story.summary(code), terminationLogPath(fromSpec));
}

/** From the wait for the sidecars to proa's exit code (see the top of this file). */
async function lifecycle(config: Config, env: NodeJS.ProcessEnv, log: Logger, run: ShutdownInput, progress: Progress, story: Story): Promise<number> {
  log.info('proa starting', { version: versionLine(), command: config.command });
  warnNonLocal(config, log);
  for (const w of config.envWarnings) log.warn(w);
  try {
    if (!config.noWait) {
      // Loaded here, not at start: --no-wait and PROA_DISABLED never need the watch nor
      // the endpoints, and their TLS and HTTP cost ~12 ms and ~5 MiB (npm run bench).
      const { connect } = await import('./sidecars/modes.ts');
      run.sidecars = await connect(config, env, log, story);
      if (!run.sidecars) {
        const code = await stopEarly(run, { kind: 'not-in-cluster', code: 3 });
        // 3 is also a common code of programs' own: the last line says whose it is.
        log.error("exit 3 is proa's, not the program's: no Kubernetes API access, and no endpoint to wait on (the lines above say why); the program never ran", { code });
        return code;
      }
      const gate = await run.sidecars.waitUntilReady(run.signals);
      if (gate.kind !== 'ready') return await stopEarly(run, gate);
    }
    if (progress.failed) return await new Promise<number>(() => {});
    // A stopping signal that came after the wait decided (while it read one more turn of
    // the watch, or between its verdict and here) is remembered, not forwarded: no command
    // runs yet. Taken here, just before the spawn, it is the early stop it is.
    const late = run.signals.stop;
    if (late) {
      log.warn('stopped before the command started', { signal: late });
      return await stopEarly(run, { kind: 'signal', signal: late });
    }
    // What the shutdown needs from the Pod, fixed now: after this, no answer from the API
    // can take the actions away.
    run.planned = run.sidecars?.planned();
    progress.command = runCommand(config.command, config.args, run.signals, log, commandEnv(env, config.keepProaEnv));
    // Once the command has started: the shutdown's modules load while it runs (a failure
    // here is the shutdown's to meet and report, when it loads them again).
    setImmediate(() => void prepareShutdown(config, run.planned?.auto).catch(() => {}));
    const result = await progress.command;
    progress.owed = result.code;
    // With other programs of the Pod wrapped by proa, the one acting for all stops the sidecars.
    if (!run.sidecars?.keepForRetry(result) && (await run.sidecars?.settle(run.signals, false)) !== 'leave') {
      await shutDown({ ...run, childPid: result.pid, commandCode: result.code });
    }
    return result.code;
  } catch (err) {
    return await recover(run, err, progress.owed);
  } finally {
    // Not awaited: process.exit ends the watch's connection as well, ~2 ms sooner.
    void run.sidecars?.stop().catch(() => {});
  }
}

/**
 * stdout for help, version and check, written whole or not at all: a reader that went
 * away (EPIPE, `proa --help | head -1`) is no error; any other failure is one line.
 */
function print(text: string): number {
  let rest = Buffer.from(redact(text));
  try {
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(1, rest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === 'EPIPE') return 0;
    try {
      writeSync(2, `proa: cannot write to standard output: ${code}\n`);
    } catch {
      // stderr is gone too: the exit code says it.
    }
    return 2;
  }
  return 0;
}

/** The command's environment: proa's own, less its PROA_* variables (they may hold credentials). */
function commandEnv(env: NodeJS.ProcessEnv, keep: boolean): NodeJS.ProcessEnv {
  return keep ? env : Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PROA_')));
}

/** --kill or --kill-all in the host's PID namespace (hostPID: true) would signal processes all over the node. */
function refuseHostKill(config: Config): void {
  if (!config.killAll && config.kill.length === 0) return;
  const host = hostPidNamespace();
  if (host) {
    throw new UsageError(`proa: ${config.killAll ? '--kill-all' : '--kill'} refused: ${host} (hostPID: true?), so processes all over the node, ` +
      `other Pods' too, would be signalled; ${hostPidFix}`);
  }
}

/** A host outside the Pod is another workload's: a shutdown request may stop a Service it shares, a wait may watch the wrong thing. */
function warnNonLocal(config: Config, log: Logger): void {
  for (const what of config.nonLocal) {
    log.warn(`${what} is not in this Pod (its host is neither a loopback name nor an address of this Pod): ` +
      "it may be a Service that other workloads share; name the sidecar's endpoint by 127.0.0.1 or localhost", { target: what });
  }
}

/**
 * Ends proa before the command ran, shutting the sidecars down all the same. A
 * signal's 128 + N gives way to 6 when the Pod's deletion has been seen by now: the
 * kubelet's TERM and the deletion usually arrive together, and then the kubelet is
 * stopping everything, so one round of actions is enough.
 */
async function stopEarly(run: ShutdownInput, stop: Stop): Promise<number> {
  const deleted = stop.kind === 'deleted' || run.sidecars?.deleted === true;
  // A peer that is not acting for all never sends the actions (sidecars/peers.ts).
  const leave = (await run.sidecars?.settle(run.signals, true)) === 'leave';
  if (!leave) await shutDown({ ...run, mode: deleted ? 'one-round' : stop.kind === 'signal' ? 'after-signal' : 'full' });
  if (stop.kind !== 'signal') return stop.code;
  return run.sidecars?.deleted ? 6 : 128 + signalNumber(stop.signal);
}

const errorText = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));

/**
 * A bug in proa must not leave the sidecars running nor lose the command's exit code:
 * log it, run the shutdown once more, and exit with what is owed (70 if the command never ran).
 * The second shutdown leaves the Pod's view out: the actions alone, retried until answered.
 */
async function recover(run: ShutdownInput, err: unknown, owed: number | undefined): Promise<number> {
  run.log.error('internal error; shutting the sidecars down and exiting with the code owed', { error: errorText(err), code: owed ?? 70 });
  try {
    await shutDown({ ...run, sidecars: undefined, commandCode: owed });
  } catch (again) {
    run.log.error('internal error during the shutdown', { error: errorText(again) });
  }
  return owed ?? 70;
}

/**
 * An error no one caught (a throw in an event handler, a rejected promise no one awaited)
 * ends the lifecycle here: the command is not started any more, a running one is waited
 * for, then the shutdown runs on what was planned before the command started, and proa
 * exits with the code owed. Once, whatever else goes wrong after.
 */
function safetyNet(run: ShutdownInput, progress: Progress, story: Story): void {
  const caught = (err: unknown): void => {
    if (progress.failed) {
      run.log.error('internal error (again, while recovering)', { error: errorText(err) });
      return;
    }
    progress.failed = true;
    void (async () => {
      const owed = progress.owed ?? (progress.command ? (await progress.command).code : undefined);
      const code = await recover(run, err, owed);
      leaveSummary(story, code, run);
      process.exit(code);
    })();
  };
  process.on('uncaughtException', caught);
  process.on('unhandledRejection', caught);
}

// proa's binary started as its own resolver (shared/lookup.ts), for a name that needs DNS.
if (process.env.__PROA_RESOLVER === '1') void import('./shared/lookup.ts').then((m) => m.serveLookups());
else main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(redact(err.message) + '\n');
      // Inside a Pod, what parsed still stops the sidecars where that is safe (shutdown/salvage.ts).
      if (process.argv[2] !== 'check') {
        await import('./shutdown/salvage.ts').then((m) => m.stopAfterUsageError(process.argv.slice(2), process.env)).catch((again: unknown) => {
          process.stderr.write(redact(`proa: internal error after the bad input: ${errorText(again)}`) + '\n');
        });
      }
      process.exit(2);
    }
    process.stderr.write(redact(`proa: internal error: ${errorText(err)}`) + '\n');
    process.exit(70);
  },
);
