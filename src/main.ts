// The lifecycle: wait for the sidecars, run the command, shut the sidecars down, wait
// for them to exit, and exit with the command's code.
import { parseCli, usage, UsageError, type Config } from './cli.ts';
import { createLogger, type Logger } from './log.ts';
import { runCommand, Signals, signalNumber } from './supervise.ts';
import { pidOneName, runShutdownActions } from './shutdown.ts';
import { Sidecars, type Stop } from './sidecars.ts';
import { detectContainer, loadClusterAccess, NotInCluster, resolveIdentity } from './kube/config.ts';
import { ApiClient } from './kube/client.ts';
import { versionLine } from './version.ts';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const invocation = parseCli(argv, env);
  if (invocation.kind === 'help') return print(usage());
  if (invocation.kind === 'version') return print(versionLine() + '\n');
  if (invocation.kind === 'disabled') {
    const log = createLogger('json', 'info');
    return (await runCommand(invocation.command, invocation.args, new Signals(log), log)).code;
  }
  const config = invocation.config;
  refuseHostKillAll(config);
  const log = createLogger(config.logFormat, config.logLevel);
  const signals = new Signals(log);
  log.info('proa starting', { version: versionLine(), command: config.command });

  const sidecars = config.noWait ? undefined : connect(config, env, log);
  if (sidecars instanceof NotInCluster) return stopEarly(config, log, { kind: 'not-in-cluster', code: 3 });
  const gate = sidecars ? await sidecars.waitUntilReady(signals) : { kind: 'ready' as const };
  if (gate.kind !== 'ready') return stopEarly(config, log, gate, sidecars);

  const result = await runCommand(config.command, config.args, signals, log);
  try {
    if (sidecars?.keepForRetry(result)) return await finish(result.code, sidecars);
    const baseline = sidecars?.beginShutdown();
    await runShutdownActions(config, log, result.pid);
    if (result.started) await sidecars?.waitForExit(baseline, signals);
  } catch (err) {
    // Whatever went wrong after the command, its exit code is what proa owes the caller.
    log.error('internal error after the command exited', { error: err instanceof Error ? err.message : String(err) });
  }
  return finish(result.code, sidecars);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

/** --kill-all in the host's PID namespace (hostPID: true) would signal the whole node. */
function refuseHostKillAll(config: Config): void {
  if (!config.killAll) return;
  const init = pidOneName();
  if (init === 'systemd' || init === 'init') {
    throw new UsageError(`proa: --kill-all refused: PID 1 is ${init}, so this is the host's PID namespace (hostPID: true) ` +
      'and every process on the node would be signalled; use --kill NAME instead');
  }
}

function connect(config: Config, env: NodeJS.ProcessEnv, log: Logger): Sidecars | NotInCluster {
  let access;
  try {
    access = loadClusterAccess(env, config.serviceAccountDir);
  } catch (err) {
    if (!(err instanceof NotInCluster)) throw err;
    log.error(`not running in Kubernetes: ${err.message}. To run without waiting for sidecars, ` +
      'pass --no-wait (shutdown actions still run) or set PROA_DISABLED=1 (nothing but the command)');
    return err;
  }
  const identity = resolveIdentity(config, env);
  log.info('watching this Pod', {
    pod: identity.pod.value, podSource: identity.pod.source,
    namespace: identity.namespace.value, namespaceSource: identity.namespace.source,
    api: `https://${access.host}:${access.port}`,
  });
  const sidecars = new Sidecars(config, log, new ApiClient(access), identity, config.container ? undefined : detectContainer());
  sidecars.start();
  return sidecars;
}

/**
 * Ends proa before the command ran: the shutdown actions still run (a Job must not hang
 * on its sidecars), the wait for their exit does not. A signal's 128 + N gives way to
 * 6 when the Pod's deletion has been seen by now: the kubelet's TERM and the deletion
 * usually arrive together.
 */
async function stopEarly(config: Config, log: Logger, stop: Stop, sidecars?: Sidecars): Promise<number> {
  await runShutdownActions(config, log);
  if (stop.kind !== 'signal') return finish(stop.code, sidecars);
  return finish(sidecars?.deleted ? 6 : 128 + signalNumber(stop.signal), sidecars);
}

async function finish(code: number, sidecars: Sidecars | undefined): Promise<number> {
  await sidecars?.stop();
  return code;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    process.stderr.write(`proa: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  },
);
