// Raw option values (argv.ts, with their environment twins merged) checked one by one
// into a typed Config. Every check fails with a UsageError naming the option (or
// variable) and what is expected; the first bad value, in the order below, is the one reported.
import { isLevel, levelFromRustLog, type Level, type LogFormat } from '../shared/log.ts';
import { shownValue } from '../shared/urls.ts';
import type { KillSignal } from './values.ts';
import { defaultServiceAccountDir } from './options.ts';
import { envTypos, fail, mergeEnv, type RawValue } from './argv.ts';
import { Values, type Sourced, type TcpEndpoint } from './read.ts';

export interface Config {
  command: string;
  args: string[];
  httpGet: URL[];
  httpPost: URL[];
  kill: string[];
  killAll: boolean;
  killSignal: KillSignal;
  httpTimeoutMs: number;
  /** undefined: the Pod's terminationGracePeriodSeconds, else 30 s. 0: do not wait. */
  shutdownTimeoutMs: number | undefined;
  shutdownOnFailure: boolean;
  /** Add the recognised sidecars' shutdown endpoints to the actions (see pod/known.ts). */
  shutdownAuto: boolean;
  noWait: boolean;
  pod: Sourced<string> | undefined;
  namespace: Sourced<string> | undefined;
  container: Sourced<string> | undefined;
  waitFor: string[];
  ignore: string[];
  /** --peer: containers that run proa although the spec cannot show it. */
  peers: string[];
  /** undefined: wait forever, as the Rust proa does. */
  readyTimeoutMs: number | undefined;
  /** 'probe': proa also runs the sidecars' readiness probes itself (probes/prober.ts); 'kubelet': the Pod's status alone. */
  readyBy: 'probe' | 'kubelet';
  /** Events on the Pod (kube/recorder.ts); the termination message is written either way. */
  events: boolean;
  /** Sidecar endpoints: extra gates with API access, the only signal without it. */
  waitHttp: URL[];
  waitTcp: TcpEndpoint[];
  /** Without API access: no wait for the endpoints to close after the shutdown. */
  noExitWait: boolean;
  watchTimeoutSeconds: number;
  logFormat: LogFormat;
  logLevel: Level;
  serviceAccountDir: string;
  /** Pass proa's own PROA_* variables on to the command (they may hold credentialed URLs). */
  keepProaEnv: boolean;
  /** PROA_* variables that look like misspelt ones, to warn about once proa logs. */
  envWarnings: string[];
  /** Every URL or endpoint given whose host is not in this Pod (shared/urls.ts): `shutdown target URL`, `wait endpoint X`. */
  nonLocal: string[];
}

/** Options and environment, checked, into a Config. */
export function configFrom(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv, command: string, args: string[], withEnv = true): Config {
  if (withEnv) mergeEnv(raw, env);
  const v = new Values(raw);
  const killSignal = v.signal('kill-signal');
  const kill = v.processNames('kill');
  const logFormat = v.choice('log-format', ['json', 'text'] as const, 'json', 'is not a log format; expected json or text');
  const logLevel = levelOf(env);
  const readyBy = v.choice('ready-by', ['probe', 'kubelet'] as const, 'probe', 'is not who decides readiness; expected probe or kubelet');
  const events = v.choice('events', ['on', 'off'] as const, 'on', 'is not a switch; expected on or off') === 'on';
  const watchTimeoutMs = v.duration('watch-timeout', 'invalid');
  const config: Config = {
    command,
    args,
    httpGet: v.urls('shutdown-http-get'),
    httpPost: v.urls('shutdown-http-post'),
    kill,
    killAll: v.on('kill-all'),
    killSignal,
    httpTimeoutMs: v.duration('shutdown-http-timeout', 'invalid') ?? 5000,
    shutdownTimeoutMs: v.duration('shutdown-timeout', 'allowed'),
    shutdownOnFailure: v.on('shutdown-on-failure'),
    shutdownAuto: v.on('shutdown-auto'),
    noWait: v.on('no-wait'),
    pod: v.name('pod'),
    namespace: v.name('namespace'),
    container: v.name('container'),
    waitFor: v.containerNames('wait-for'),
    ignore: v.containerNames('ignore'),
    peers: v.containerNames('peer'),
    readyTimeoutMs: v.duration('ready-timeout', 'invalid'),
    readyBy,
    events,
    waitHttp: v.urls('wait-http'),
    waitTcp: v.tcp('wait-tcp'),
    noExitWait: v.on('no-exit-wait'),
    // The API server takes whole seconds. 50 s bounds the time to notice a dead
    // connection to 55 s (see kube/watch.ts), well under load balancers' idle timeouts.
    watchTimeoutSeconds: watchTimeoutMs === undefined ? 50 : Math.max(1, Math.ceil(watchTimeoutMs / 1000)),
    logFormat,
    logLevel,
    serviceAccountDir: env.PROA_SERVICEACCOUNT_DIR || defaultServiceAccountDir,
    keepProaEnv: v.on('keep-proa-env'),
    envWarnings: envTypos(env),
    nonLocal: v.nonLocal,
  };
  if (config.noWait && (config.waitHttp.length > 0 || config.waitTcp.length > 0)) {
    fail(`${raw.get('no-wait')!.where} starts the command at once, and ${raw.get(config.waitHttp.length > 0 ? 'wait-http' : 'wait-tcp')!.where} waits for a sidecar: use one of them`);
  }
  const both = config.waitFor.find((n) => config.ignore.includes(n));
  if (both) fail(`container "${both}" is both in --wait-for and --ignore; name it in one of them`);
  return config;
}

/** PROA_LOG, else RUST_LOG's level as the Rust proa reads it, else info. */
function levelOf(env: NodeJS.ProcessEnv): Level {
  const proaLog = env.PROA_LOG;
  if (proaLog !== undefined && proaLog !== '') {
    const v = proaLog.trim().toLowerCase();
    if (!isLevel(v)) fail(`PROA_LOG="${shownValue(proaLog)}" is not a log level; expected error, warn, info or debug`);
    return v;
  }
  return (env.RUST_LOG ? levelFromRustLog(env.RUST_LOG) : undefined) ?? 'info';
}
