// The lifecycle: wait for the sidecars, run the command, shut the sidecars down, wait
// for them to exit, and exit with the command's code. Every path out shuts down.
import { parseCli, usage, UsageError, type Config } from './cli.ts';
import { createLogger, type Logger } from './log.ts';
import { runCommand, Signals, signalNumber } from './supervise.ts';
import { pidOneName } from './kill.ts';
import { prepareShutdown, shutDown, type ShutdownInput } from './shutdown.ts';
import type { Sidecars, Stop } from './sidecars.ts';
import { detectContainer, loadClusterAccess, NotInCluster, resolveIdentity } from './kube/config.ts';
import { versionLine } from './version.ts';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const invocation = parseCli(argv, env);
  if (invocation.kind === 'help') return print(usage());
  if (invocation.kind === 'version') return print(versionLine() + '\n');
  if (invocation.kind === 'check') {
    const { check, render } = await import('./check.ts');
    const { report, source } = await check(invocation.config, invocation.bare, env);
    print(render(report, source, invocation.jsonAsked));
    return report.blocking ? 1 : 0;
  }
  if (invocation.kind === 'disabled') {
    const log = createLogger(invocation.logFormat, invocation.logLevel);
    return (await runCommand(invocation.command, invocation.args, new Signals(log), log)).code;
  }
  const config = invocation.config;
  refuseHostKillAll(config);
  const log = createLogger(config.logFormat, config.logLevel);
  const run: ShutdownInput = { config, log, signals: new Signals(log), sidecars: undefined };
  log.info('proa starting', { version: versionLine(), command: config.command });
  let owed: number | undefined;
  try {
    if (!config.noWait) {
      run.sidecars = await connect(config, env, log);
      if (!run.sidecars) return await stopEarly(run, { kind: 'not-in-cluster', code: 3 });
      const gate = await run.sidecars.waitUntilReady(run.signals);
      if (gate.kind !== 'ready') return await stopEarly(run, gate);
    }
    const command = runCommand(config.command, config.args, run.signals, log);
    // Once the command has started: the shutdown's modules load while it runs (a failure
    // here is the shutdown's to meet and report, when it loads them again).
    setImmediate(() => void prepareShutdown(config, run.sidecars?.autoActions).catch(() => {}));
    const result = await command;
    owed = result.code;
    if (!run.sidecars?.keepForRetry(result)) await shutDown({ ...run, childPid: result.pid });
    return owed;
  } catch (err) {
    return await recover(run, err, owed);
  } finally {
    // Not awaited: process.exit ends the watch's connection as well, ~2 ms sooner.
    void run.sidecars?.stop().catch(() => {});
  }
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

/** The watch on this Pod, started; undefined when proa is not in a cluster (said why). */
async function connect(config: Config, env: NodeJS.ProcessEnv, log: Logger): Promise<Sidecars | undefined> {
  let access;
  try {
    access = loadClusterAccess(env, config.serviceAccountDir);
  } catch (err) {
    if (!(err instanceof NotInCluster)) throw err;
    const what = env.KUBERNETES_SERVICE_HOST
      ? `cannot use the Kubernetes API: ${err.message}. In a Pod this usually means automountServiceAccountToken: false ` +
        '(on the Pod or its ServiceAccount); set it to true for this Pod'
      : `not running in Kubernetes: ${err.message}`;
    log.error(`${what}. To run without waiting for sidecars, pass --no-wait (shutdown actions still run) ` +
      'or set PROA_DISABLED=1 (nothing but the command)');
    return undefined;
  }
  const identity = resolveIdentity(config, env);
  log.info('watching this Pod', {
    pod: identity.pod.value, podSource: identity.pod.source,
    namespace: identity.namespace.value, namespaceSource: identity.namespace.source,
    api: `https://${access.host}:${access.port}`,
  });
  // Loaded here, not at start: --no-wait and PROA_DISABLED never need the watch, and its
  // TLS costs ~12 ms and ~5 MiB of Node's own modules (npm run bench).
  const [{ Sidecars }, { ApiClient }] = await Promise.all([import('./sidecars.ts'), import('./kube/client.ts')]);
  const sidecars = new Sidecars(config, log, new ApiClient(access), identity, config.container ? undefined : detectContainer());
  sidecars.start();
  return sidecars;
}

/**
 * Ends proa before the command ran, shutting the sidecars down all the same. A
 * signal's 128 + N gives way to 6 when the Pod's deletion has been seen by now: the
 * kubelet's TERM and the deletion usually arrive together, and then the kubelet is
 * stopping everything, so one round of actions is enough.
 */
async function stopEarly(run: ShutdownInput, stop: Stop): Promise<number> {
  const deleted = stop.kind === 'deleted' || run.sidecars?.deleted === true;
  await shutDown({ ...run, mode: deleted ? 'one-round' : stop.kind === 'signal' ? 'after-signal' : 'full' });
  if (stop.kind !== 'signal') return stop.code;
  return run.sidecars?.deleted ? 6 : 128 + signalNumber(stop.signal);
}

/**
 * A bug in proa must not leave the sidecars running nor lose the command's exit code:
 * log it, run the shutdown once more, and exit with what is owed (70 if the command never ran).
 */
async function recover(run: ShutdownInput, err: unknown, owed: number | undefined): Promise<number> {
  run.log.error('internal error; shutting the sidecars down and exiting with the code owed', {
    error: err instanceof Error ? (err.stack ?? err.message) : String(err), code: owed ?? 70,
  });
  try {
    await shutDown(run);
  } catch (again) {
    run.log.error('internal error during the shutdown', { error: again instanceof Error ? again.message : String(again) });
  }
  return owed ?? 70;
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
