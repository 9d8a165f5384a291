// Raw option values (argv.ts, with their environment twins merged) checked one by one
// into a typed Config. Every check fails with a UsageError naming the option (or
// variable) and what is expected; the first bad value, in the order below, is the one reported.
import { constants } from 'node:os';
import { isLevel, levelFromRustLog, type Level, type LogFormat } from '../shared/log.ts';
import { maxDurationText } from '../shared/limits.ts';
import { credentialProblem, display, isLocalHost, shownValue } from '../shared/urls.ts';
import { parseDuration, parseSignal, type KillSignal } from './values.ts';
import { defaultServiceAccountDir } from './options.ts';
import { envTypos, fail, mergeEnv, type RawValue } from './argv.ts';

/** Where a value came from, for logs that explain proa's decisions. */
export interface Sourced<T> {
  value: T;
  source: string;
}

/** HOST:PORT, as given (IPv6 in brackets). */
export interface TcpEndpoint {
  host: string;
  port: number;
  text: string;
}

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
  /** Add the recognised sidecars' shutdown endpoints to the actions (see known.ts). */
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
  /** 'probe': proa also runs the sidecars' readiness probes itself (prober.ts); 'kubelet': the Pod's status alone. */
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
  /** Every URL or endpoint given whose host is not in this Pod (urls.ts): `shutdown target URL`, `wait endpoint X`. */
  nonLocal: string[];
}

/**
 * A value of a list option as a usage error quotes it. From a PROA_* list that holds an
 * `@`, not at all: the list was split at commas, and a comma inside a password leaves
 * pieces of it (`http://admin:S3`) that no redaction would recognise.
 */
function show(r: RawValue, text: string): string {
  if (!r.secret) return `"${shownValue(text)}"`;
  return `item ${r.values.indexOf(text) + 1} of ${r.values.length} (not shown: the variable holds credentials; a comma inside a URL there is written %2C)`;
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

/** Each option's raw values, read as the type it holds; hosts outside the Pod noted on the way. */
class Values {
  readonly #raw: Map<string, RawValue>;
  /** `shutdown target URL`, `wait endpoint X`: every one whose host is not in this Pod. */
  readonly nonLocal: string[] = [];

  constructor(raw: Map<string, RawValue>) {
    this.#raw = raw;
  }

  #list(long: string): string[] {
    return this.#raw.get(long)?.values ?? [];
  }

  #bad(long: string, text: string, what: string): never {
    const r = this.#raw.get(long)!;
    return fail(`${r.where}: ${show(r, text)} ${what}`);
  }

  on(long: string): boolean {
    return this.#raw.has(long);
  }

  urls(long: string): URL[] {
    return this.#list(long).map((text) => {
      let u: URL | undefined;
      try {
        u = new URL(text);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        this.#bad(long, text, 'is not an http(s) URL; expected e.g. http://127.0.0.1:15020/quitquitquit');
      }
      const problem = credentialProblem(u);
      if (problem) this.#bad(long, text, `cannot be used: ${problem}`);
      if (!isLocalHost(u.hostname)) this.nonLocal.push(`${long.startsWith('wait') ? 'wait endpoint' : 'shutdown target'} ${display(u)}`);
      return u;
    });
  }

  tcp(long: string): TcpEndpoint[] {
    return this.#list(long).map((text) => {
      const m = text.trim().match(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/);
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) this.#bad(long, text, 'is not HOST:PORT; expected e.g. 127.0.0.1:5432 or [::1]:5432');
      const host = m[1]!.replace(/^\[|\]$/g, '');
      if (!isLocalHost(host)) this.nonLocal.push(`wait endpoint ${text.trim()}`);
      return { host, port, text: text.trim() };
    });
  }

  duration(long: string, zero: 'allowed' | 'invalid'): number | undefined {
    const r = this.#raw.get(long);
    if (!r) return undefined;
    const text = r.values[0]!;
    const ms = parseDuration(text);
    if (ms === undefined) fail(`${r.where}: "${shownValue(text)}" is not a duration; expected a number with a unit (ms, s, m, h) such as 500ms, 5s or 1m30s`);
    if (ms === Infinity) fail(`${r.where}: "${shownValue(text)}" is too long; the largest duration is ${maxDurationText}`);
    if (ms === 0 && zero === 'invalid') fail(`${r.where}: "${shownValue(text)}" must be greater than zero`);
    return ms;
  }

  name(long: string): Sourced<string> | undefined {
    const r = this.#raw.get(long);
    return r ? { value: r.values[0]!, source: r.where } : undefined;
  }

  containerNames(long: string): string[] {
    const values = this.#list(long);
    for (const v of values) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) this.#bad(long, v, "is not a container name; expected a DNS label (lower-case letters, digits, '-')");
    }
    return values;
  }

  processNames(long: string): string[] {
    const values = this.#list(long);
    for (const k of values) {
      if (k.includes('/')) this.#bad(long, k, "is not a process name; expected an executable's base name such as envoy");
    }
    return values;
  }

  signal(long: string): KillSignal {
    const sig = this.#raw.get(long);
    if (!sig) return { name: 'SIGTERM', number: constants.signals.SIGTERM };
    const parsed = parseSignal(sig.values[0]!);
    if (!parsed) fail(`${sig.where}: "${shownValue(sig.values[0]!)}" is not a signal; expected a name such as TERM, SIGINT or KILL, or a number`);
    return parsed;
  }

  /** One of `allowed`, case and spaces aside; `fallback` when the option is not given. */
  choice<T extends string>(long: string, allowed: readonly T[], fallback: T, what: string): T {
    const r = this.#raw.get(long);
    if (!r) return fallback;
    const v = r.values[0]!.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) fail(`${r.where}: "${shownValue(r.values[0]!)}" ${what}`);
    return v as T;
  }
}
