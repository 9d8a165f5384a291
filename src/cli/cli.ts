// Options, environment and usage -> a typed Config. Pure: the caller passes argv and
// env, and every problem is a UsageError (one line, exit code 2) before anything runs.
import { constants } from 'node:os';
import { isLevel, levelFromRustLog, type Level, type LogFormat } from '../shared/log.ts';
import { maxDurationText } from '../shared/limits.ts';
import { credentialProblem, display, isLocalHost, shownValue } from '../shared/urls.ts';
import { parseDuration, parseSignal, parseSwitch, type KillSignal } from './values.ts';
import { defaultServiceAccountDir, envName, options, usage } from './options.ts';
import { envTypos, fail, mergeEnv, splitArgv, UsageError, type RawValue } from './argv.ts';

export { defaultServiceAccountDir, parseDuration, parseSignal, usage, UsageError, type KillSignal };

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

export type Invocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'disabled'; command: string; args: string[]; logFormat: LogFormat; logLevel: Level; keepProaEnv: boolean }
  | { kind: 'run'; config: Config }
  | { kind: 'check'; config: Config; bare: boolean; jsonAsked: boolean };

/**
 * PROA_DISABLED: the kill switch must work even when the rest of the configuration is
 * broken. Only its own value is checked (an unclear switch is refused: did they mean
 * to disable proa or not?); options are passed over unchecked, and the log settings
 * are used where they are valid.
 */
function disabledSwitch(env: NodeJS.ProcessEnv): boolean {
  const text = env.PROA_DISABLED;
  if (text === undefined || text === '') return false;
  const on = parseSwitch(text);
  if (on === undefined) fail(`PROA_DISABLED="${shownValue(text)}" is not a switch value; expected 1, true, yes, 0, false or no`);
  return on;
}

/**
 * `proa check [OPTIONS]`: only as the very first argument (a program named check runs
 * with `proa -- check`). It takes proa's options and their environment twins, and no
 * command. `bare`: no options at all, so check may take them from PID 1's proa.
 */
function parseCheck(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  const split = splitArgv(argv);
  if (split.help) return { kind: 'help' };
  if (split.version) return { kind: 'version' };
  if (split.command.length > 0) fail(`check takes options only, not a command (got "${shownValue(split.command[0]!)}"); to run a program named check: proa -- check`);
  return { kind: 'check', config: configFrom(split.raw, env, '', []), bare: argv.length === 0, jsonAsked: (split.raw.get('log-format')?.values[0] ?? env.PROA_LOG_FORMAT ?? '').trim().toLowerCase() === 'json' };
}

/** The Config of a proa started with `argv` and `env` (PID 1's, for check), or undefined if they would not parse. */
export function configOf(argv: readonly string[], env: NodeJS.ProcessEnv): Config | undefined {
  try {
    const inv = parseCli(argv, env);
    return inv.kind === 'run' ? inv.config : undefined;
  } catch {
    return undefined;
  }
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  if (argv[0] === 'check') return parseCheck(argv.slice(1), env);
  const disabled = disabledSwitch(env);
  const split = splitArgv(argv, disabled);
  if (split.help) return { kind: 'help' };
  if (split.version) return { kind: 'version' };
  const [command, ...args] = split.command;
  if (command === undefined) fail('missing COMMAND to run; usage: proa [OPTIONS] [--] COMMAND [ARGS...]');
  refuseSpacedUnit(split.lastBeforeCommand, command);
  if (disabled) {
    const format = (split.raw.get('log-format')?.values[0] ?? env.PROA_LOG_FORMAT ?? '').trim().toLowerCase();
    const level = (env.PROA_LOG ?? '').trim().toLowerCase();
    return {
      kind: 'disabled', command, args,
      logFormat: format === 'text' ? 'text' : 'json',
      logLevel: isLevel(level) ? level : (env.RUST_LOG ? levelFromRustLog(env.RUST_LOG) : undefined) ?? 'info',
      keepProaEnv: split.raw.has('keep-proa-env') || parseSwitch(env.PROA_KEEP_PROA_ENV ?? '') === true,
    };
  }

  return { kind: 'run', config: configFrom(split.raw, env, command, args) };
}

const durationOptions: ReadonlySet<string> = new Set(options.filter((o) => o.arg === 'DURATION').map((o) => o.long));
const unitWord = /^(s|secs?|seconds?|m|mins?|minutes?|h|hours?|ms)$/i;

/**
 * `--ready-timeout 5 min`: the space ended the value, so 5 would be seconds and `min`
 * would run as the command. A bare number followed, with no `--` between, by a word that
 * names a unit is refused (a bare number alone stays seconds, as documented).
 */
function refuseSpacedUnit(last: { long: string; value: string } | undefined, command: string): void {
  if (!last || !durationOptions.has(last.long) || !/^\d+(\.\d+)?$/.test(last.value.trim()) || !unitWord.test(command)) return;
  const unit = command.toLowerCase().startsWith('ms') ? 'ms' : command[0]!.toLowerCase();
  fail(`--${last.long}: "${last.value} ${command}" is not a duration: the space ends the value, and "${command}" would run as the command; ` +
    `write ${last.value}${unit} (or put -- before a command named ${command})`);
}

/** The kill action configured, by its flag, if any. */
export function killFlag(config: Config): '--kill' | '--kill-all' | undefined {
  return config.killAll ? '--kill-all' : config.kill.length > 0 ? '--kill' : undefined;
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

/** The options that say which Pod and which container are proa's: a bad one leaves nothing safe to send. */
const identityOptions: ReadonlySet<string> = new Set(['pod', 'namespace', 'container']);

/**
 * After a usage error: the Config of what did parse, for the shutdown actions alone
 * (lifecycle.ts' rule for bad input inside a Pod), or why nothing may be sent. Each bad
 * value is left out, found by checking again without it: a list option loses only the
 * values that fail alone; a bad --kill-signal takes the kill actions with it (no other
 * signal may stand in). Refused: a bad --pod, --namespace or --container (another Pod's
 * sidecars, or the wrong container's rules), a PROA_* list with a bad item (a comma
 * inside a URL may have made a valid URL to another host of one), PROA_DISABLED unclear.
 */
export function salvage(argv: readonly string[], env: NodeJS.ProcessEnv): { config: Config } | { refused: string } {
  if (env.PROA_DISABLED !== undefined && env.PROA_DISABLED !== '') return { refused: 'PROA_DISABLED is set' };
  const raw = splitArgv(argv, true).raw;
  mergeEnv(raw, env, true);
  for (const long of identityOptions) {
    const r = raw.get(long);
    if (r && r.values.some((v) => v.trim() === '')) return { refused: `${r.where} has no value, and it says whose sidecars these are` };
  }
  const ownEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !options.some((o) => envName(o.long) === k)));
  for (let tries = 0; tries < 2 * options.length + 4; tries++) {
    try {
      return { config: configFrom(raw, ownEnv, '', [], false) };
    } catch (err) {
      if (!(err instanceof UsageError) || err.where === undefined) return { refused: 'the bad input is not one option\'s value' };
      const where = err.where;
      if (where === 'PROA_LOG' || where === 'PROA_SERVICEACCOUNT_DIR') {
        delete ownEnv[where];
        continue;
      }
      const spec = options.find((o) => `--${o.long}` === where || envName(o.long) === where);
      if (!spec) return { refused: `the bad input is in ${where}` };
      if (identityOptions.has(spec.long)) return { refused: `the bad value is in ${where}, which says whose sidecars these are` };
      const r = raw.get(spec.long);
      if (r && r.where.startsWith('PROA_') && spec.kind === 'list') return { refused: `${where} has a bad item, and a comma inside a URL may have split it wrongly` };
      if (spec.long === 'kill-signal') for (const k of ['kill', 'kill-all']) raw.delete(k);
      if (r && spec.kind === 'list') {
        const good = r.values.filter((v) => {
          try {
            configFrom(new Map([[spec.long, { values: [v], where: r.where }]]), {}, '', [], false);
            return true;
          } catch {
            return false;
          }
        });
        if (good.length > 0 && good.length < r.values.length) {
          raw.set(spec.long, { ...r, values: good });
          continue;
        }
      }
      raw.delete(spec.long);
    }
  }
  return { refused: 'too many bad values' };
}

/** Options and environment, checked, into a Config. */
function configFrom(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv, command: string, args: string[], withEnv = true): Config {
  if (withEnv) mergeEnv(raw, env);
  const one = (long: string): RawValue | undefined => raw.get(long);
  const list = (long: string): string[] => raw.get(long)?.values ?? [];
  const on = (long: string): boolean => raw.has(long);

  const nonLocal: string[] = [];
  const url = (long: string): URL[] =>
    list(long).map((text) => {
      let u: URL | undefined;
      try {
        u = new URL(text);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        fail(`${raw.get(long)!.where}: ${show(raw.get(long)!, text)} is not an http(s) URL; expected e.g. http://127.0.0.1:15020/quitquitquit`);
      }
      const problem = credentialProblem(u);
      if (problem) fail(`${raw.get(long)!.where}: ${show(raw.get(long)!, text)} cannot be used: ${problem}`);
      if (!isLocalHost(u.hostname)) nonLocal.push(`${long.startsWith('wait') ? 'wait endpoint' : 'shutdown target'} ${display(u)}`);
      return u;
    });

  const tcp = (long: string): TcpEndpoint[] =>
    list(long).map((text) => {
      const m = text.trim().match(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/);
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) fail(`${raw.get(long)!.where}: ${show(raw.get(long)!, text)} is not HOST:PORT; expected e.g. 127.0.0.1:5432 or [::1]:5432`);
      const host = m[1]!.replace(/^\[|\]$/g, '');
      if (!isLocalHost(host)) nonLocal.push(`wait endpoint ${text.trim()}`);
      return { host, port, text: text.trim() };
    });

  const duration = (long: string, zero: 'allowed' | 'invalid'): number | undefined => {
    const r = one(long);
    if (!r) return undefined;
    const text = r.values[0]!;
    const ms = parseDuration(text);
    if (ms === undefined) fail(`${r.where}: "${shownValue(text)}" is not a duration; expected a number with a unit (ms, s, m, h) such as 500ms, 5s or 1m30s`);
    if (ms === Infinity) fail(`${r.where}: "${shownValue(text)}" is too long; the largest duration is ${maxDurationText}`);
    if (ms === 0 && zero === 'invalid') fail(`${r.where}: "${shownValue(text)}" must be greater than zero`);
    return ms;
  };

  const name = (long: string): Sourced<string> | undefined => {
    const r = one(long);
    return r ? { value: r.values[0]!, source: r.where } : undefined;
  };

  const names = (long: string): string[] => {
    const values = list(long);
    for (const v of values) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) {
        fail(`${raw.get(long)!.where}: ${show(raw.get(long)!, v)} is not a container name; expected a DNS label (lower-case letters, digits, '-')`);
      }
    }
    return values;
  };

  let killSignal: KillSignal = { name: 'SIGTERM', number: constants.signals.SIGTERM };
  const sig = one('kill-signal');
  if (sig) {
    const parsed = parseSignal(sig.values[0]!);
    if (!parsed) fail(`${sig.where}: "${shownValue(sig.values[0]!)}" is not a signal; expected a name such as TERM, SIGINT or KILL, or a number`);
    killSignal = parsed;
  }

  const kill = list('kill');
  for (const k of kill) {
    if (k.includes('/')) fail(`${raw.get('kill')!.where}: ${show(raw.get('kill')!, k)} is not a process name; expected an executable's base name such as envoy`);
  }

  let logFormat: LogFormat = 'json';
  const fmt = one('log-format');
  if (fmt) {
    const v = fmt.values[0]!.trim().toLowerCase();
    if (v !== 'json' && v !== 'text') fail(`${fmt.where}: "${shownValue(fmt.values[0]!)}" is not a log format; expected json or text`);
    logFormat = v;
  }

  let logLevel: Level = 'info';
  const proaLog = env.PROA_LOG;
  if (proaLog !== undefined && proaLog !== '') {
    const v = proaLog.trim().toLowerCase();
    if (!isLevel(v)) fail(`PROA_LOG="${shownValue(proaLog)}" is not a log level; expected error, warn, info or debug`);
    logLevel = v;
  } else if (env.RUST_LOG) {
    logLevel = levelFromRustLog(env.RUST_LOG) ?? logLevel;
  }

  let readyBy: Config['readyBy'] = 'probe';
  const by = one('ready-by');
  if (by) {
    const v = by.values[0]!.trim().toLowerCase();
    if (v !== 'probe' && v !== 'kubelet') fail(`${by.where}: "${shownValue(by.values[0]!)}" is not who decides readiness; expected probe or kubelet`);
    readyBy = v;
  }

  let events = true;
  const ev = one('events');
  if (ev) {
    const v = ev.values[0]!.trim().toLowerCase();
    if (v !== 'on' && v !== 'off') fail(`${ev.where}: "${shownValue(ev.values[0]!)}" is not a switch; expected on or off`);
    events = v === 'on';
  }

  const watchTimeoutMs = duration('watch-timeout', 'invalid');

  const config: Config = {
    command,
    args,
    httpGet: url('shutdown-http-get'),
    httpPost: url('shutdown-http-post'),
    kill,
    killAll: on('kill-all'),
    killSignal,
    httpTimeoutMs: duration('shutdown-http-timeout', 'invalid') ?? 5000,
    shutdownTimeoutMs: duration('shutdown-timeout', 'allowed'),
    shutdownOnFailure: on('shutdown-on-failure'),
    shutdownAuto: on('shutdown-auto'),
    noWait: on('no-wait'),
    pod: name('pod'),
    namespace: name('namespace'),
    container: name('container'),
    waitFor: names('wait-for'),
    ignore: names('ignore'),
    peers: names('peer'),
    readyTimeoutMs: duration('ready-timeout', 'invalid'),
    readyBy,
    events,
    waitHttp: url('wait-http'),
    waitTcp: tcp('wait-tcp'),
    noExitWait: on('no-exit-wait'),
    // The API server takes whole seconds. 50 s bounds the time to notice a dead
    // connection to 55 s (see kube/watch.ts), well under load balancers' idle timeouts.
    watchTimeoutSeconds: watchTimeoutMs === undefined ? 50 : Math.max(1, Math.ceil(watchTimeoutMs / 1000)),
    logFormat,
    logLevel,
    serviceAccountDir: env.PROA_SERVICEACCOUNT_DIR || defaultServiceAccountDir,
    keepProaEnv: on('keep-proa-env'),
    envWarnings: envTypos(env),
    nonLocal,
  };
  if (config.noWait && (config.waitHttp.length > 0 || config.waitTcp.length > 0)) {
    fail(`${raw.get('no-wait')!.where} starts the command at once, and ${raw.get(config.waitHttp.length > 0 ? 'wait-http' : 'wait-tcp')!.where} waits for a sidecar: use one of them`);
  }
  const both = config.waitFor.find((n) => config.ignore.includes(n));
  if (both) fail(`container "${both}" is both in --wait-for and --ignore; name it in one of them`);
  return config;
}
