// Options, environment and usage -> a typed Config. Pure: the caller passes argv and
// env, and every problem is a UsageError (one line, exit code 2) before anything runs.
import { constants } from 'node:os';
import { isLevel, levelFromRustLog, type Level, type LogFormat } from './log.ts';
import { maxDurationText } from './limits.ts';
import { credentialProblem, redact } from './urls.ts';
import { parseDuration, parseSignal, parseSwitch, type KillSignal } from './values.ts';

export { parseDuration, parseSignal, type KillSignal };

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where a value came from, for logs that explain proa's decisions. */
export interface Sourced<T> {
  value: T;
  source: string;
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
  /** undefined: wait forever, as the Rust proa does. */
  readyTimeoutMs: number | undefined;
  watchTimeoutSeconds: number;
  logFormat: LogFormat;
  logLevel: Level;
  serviceAccountDir: string;
  /** Pass proa's own PROA_* variables on to the command (they may hold credentialed URLs). */
  keepProaEnv: boolean;
}

export type Invocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'disabled'; command: string; args: string[]; logFormat: LogFormat; logLevel: Level; keepProaEnv: boolean }
  | { kind: 'run'; config: Config }
  | { kind: 'check'; config: Config; bare: boolean; jsonAsked: boolean };

type Kind = 'list' | 'value' | 'switch';

interface OptionSpec {
  long: string;
  short?: string;
  kind: Kind;
  arg?: string;
  help: string;
  default?: string;
}

export const options: readonly OptionSpec[] = [
  { long: 'shutdown-http-get', short: 'g', kind: 'list', arg: 'URL', help: 'GET this URL on shutdown (repeatable)' },
  { long: 'shutdown-http-post', short: 'p', kind: 'list', arg: 'URL', help: 'POST to this URL, empty body, on shutdown (repeatable)' },
  { long: 'kill', short: 'k', kind: 'list', arg: 'NAME', help: 'on shutdown, signal every visible process whose executable is NAME (repeatable; needs shareProcessNamespace: true)' },
  { long: 'kill-all', short: 'K', kind: 'switch', help: 'on shutdown, signal every visible process but PID 1, proa and its child' },
  { long: 'kill-signal', kind: 'value', arg: 'SIG', help: 'signal for --kill and --kill-all: a name, with or without SIG (RTMIN+N by glibc numbering), or a number', default: 'TERM' },
  { long: 'shutdown-http-timeout', kind: 'value', arg: 'DURATION', help: 'bound on each shutdown request', default: '5s' },
  { long: 'shutdown-timeout', kind: 'value', arg: 'DURATION', help: 'bound on the whole shutdown: retrying the actions and waiting for the sidecars to exit; 0: one attempt each, do not wait', default: "the Pod's terminationGracePeriodSeconds, else 30s" },
  { long: 'shutdown-auto', kind: 'switch', help: "also POST to the shutdown endpoints of well-known sidecars (Istio, Linkerd, Cloud SQL Auth Proxy, Vault Agent) that the Pod spec shows enabled" },
  { long: 'shutdown-on-failure', kind: 'switch', help: 'under restartPolicy OnFailure, shut the sidecars down even when the command fails' },
  { long: 'ready-timeout', kind: 'value', arg: 'DURATION', help: 'give up (exit 5) when the sidecars are not ready by then', default: 'wait forever' },
  { long: 'wait-for', kind: 'list', arg: 'NAME', help: 'wait only for these containers (repeatable; native sidecars allowed)', default: 'every other regular container' },
  { long: 'ignore', kind: 'list', arg: 'NAME', help: 'do not wait for these containers (repeatable)' },
  { long: 'pod', kind: 'value', arg: 'NAME', help: "this Pod's name", default: 'POD_NAME, else the hostname' },
  { long: 'namespace', kind: 'value', arg: 'NAME', help: "this Pod's namespace", default: "POD_NAMESPACE, else the service account's namespace file" },
  { long: 'container', kind: 'value', arg: 'NAME', help: "proa's own container", default: 'found in /proc/self/mountinfo, else the first container' },
  { long: 'watch-timeout', kind: 'value', arg: 'DURATION', help: 'timeoutSeconds asked of each watch request; a dead connection is noticed within this + 5s', default: '50s' },
  { long: 'no-wait', kind: 'switch', help: 'start the command at once and never contact the Kubernetes API (shutdown actions still run)' },
  { long: 'log-format', kind: 'value', arg: 'FORMAT', help: 'json or text', default: 'json' },
  { long: 'keep-proa-env', kind: 'switch', help: "pass proa's own PROA_* variables on to the command (by default they are removed: they may hold credentials)" },
];

export function envName(long: string): string {
  return 'PROA_' + long.toUpperCase().replaceAll('-', '_');
}

export const defaultServiceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export function usage(): string {
  const lines = [
    'proa: wait for the sidecars of this Pod, run COMMAND, then shut the sidecars down.',
    '',
    'Usage: proa [OPTIONS] [--] COMMAND [ARGS...]',
    '       proa check [OPTIONS]   report what proa would do in this Pod, and why; changes nothing',
    '       (check only as the first argument: a program named check runs with proa -- check)',
    '',
    'Options (each also read from the environment variable shown; a flag replaces it):',
  ];
  for (const o of options) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.long}${o.arg ? ` ${o.arg}` : ''}`;
    lines.push(`  ${flag}`);
    lines.push(`        ${o.help}`);
    lines.push(`        env ${envName(o.long)}${o.default ? `; default: ${o.default}` : ''}`);
  }
  lines.push(
    '  -h, --help      print this help',
    '  -V, --version   print the version',
    '',
    'Environment only:',
    '  PROA_DISABLED=1           run COMMAND with signal forwarding and nothing else',
    '  PROA_LOG=LEVEL            error, warn, info (default) or debug; RUST_LOG (LEVEL or proa=LEVEL) also works',
    `  PROA_SERVICEACCOUNT_DIR   credentials directory (default ${defaultServiceAccountDir})`,
    '',
    'Lists in the environment are comma-separated; switches take 1/true/yes or 0/false/no.',
    `Durations: a number with a unit (ms, s, m, h), combinable (1m30s); a bare number is seconds; at most ${maxDurationText}.`,
    '',
    'Exit codes: the command\'s own; 2 bad input; 3 not in Kubernetes; 4 a sidecar terminated for good;',
    '5 --ready-timeout expired; 6 the Pod was deleted first; 126 not executable; 127 not found;',
    '128+N a signal before the command started, or the command died of signal N; 70 an internal error before the command ran.',
    'proa check: 0 proa would work here; 1 it would not (the last line says why); 2 bad options.',
  );
  return lines.join('\n') + '\n';
}

const seeHelp = " (see 'proa --help')";

/** One line, credentials in any URL it quotes removed. */
function fail(message: string): never {
  throw new UsageError(redact(`proa: ${message}${seeHelp}`).replace(/[\r\n]+/g, ' '));
}

// --- argv and environment ----------------------------------------------------------

interface RawValue {
  values: string[];
  /** `--flag` or the environment variable's name. */
  where: string;
}

interface Split {
  raw: Map<string, RawValue>;
  command: string[];
  help: boolean;
  version: boolean;
}

/**
 * Option parsing stops at `--` or at the first argument that is not an option, so
 * everything after belongs to the command even when it starts with `-`.
 */
function splitArgv(argv: readonly string[], lenient = false): Split {
  // Under PROA_DISABLED nothing is checked: an unknown or incomplete option is passed over.
  const problem = (message: string): void => {
    if (!lenient) fail(message);
  };
  const raw = new Map<string, RawValue>();
  const out: Split = { raw, command: [], help: false, version: false };
  const add = (spec: OptionSpec, value: string): void => {
    const where = `--${spec.long}`;
    const prev = raw.get(spec.long);
    if (spec.kind === 'list' && prev) prev.values.push(value);
    else raw.set(spec.long, { values: [value], where });
  };
  const takeValue = (spec: OptionSpec, inline: string | undefined, i: number): [string, number] => {
    if (inline !== undefined) return [inline, i];
    const next = argv[i + 1];
    if (next === undefined || next === '--') {
      problem(`--${spec.long} needs a value (${spec.arg})`);
      return ['', i];
    }
    return [next, i + 1];
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name === 'help') { out.help = true; continue; }
      if (name === 'version') { out.version = true; continue; }
      const spec = options.find((o) => o.long === name);
      if (!spec) {
        problem(`unknown option '--${name}'`);
        continue;
      }
      if (spec.kind === 'switch') {
        if (inline !== undefined) problem(`--${spec.long} is a switch and takes no value (got "${inline}")`);
        add(spec, 'true');
      } else {
        const [value, at] = takeValue(spec, inline, i);
        add(spec, value);
        i = at;
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A cluster of short options: -Kg URL, -gURL.
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        if (c === 'h') { out.help = true; continue; }
        if (c === 'V') { out.version = true; continue; }
        const spec = options.find((o) => o.short === c);
        if (!spec) {
          problem(`unknown option '-${c}'`);
          break;
        }
        if (spec.kind === 'switch') { add(spec, 'true'); continue; }
        // -gURL, -g=URL (as clap reads it) or -g URL.
        const rest = arg.slice(j + 1).replace(/^=/, '');
        const [value, at] = takeValue(spec, rest === '' ? undefined : rest, i);
        add(spec, value);
        i = at;
        break;
      }
      continue;
    }
    break;
  }
  out.command = argv.slice(i);
  return out;
}

/** The environment's values for options not given as flags. An empty variable is unset. */
function mergeEnv(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv): void {
  for (const spec of options) {
    if (raw.has(spec.long)) continue;
    const name = envName(spec.long);
    const text = env[name];
    if (text === undefined || text === '') continue;
    const values = spec.kind === 'list' ? text.split(',').map((v) => v.trim()).filter((v) => v !== '') : [text];
    if (spec.kind === 'switch') {
      const on = parseSwitch(text);
      if (on === undefined) fail(`${name}="${text}" is not a switch value; expected 1, true, yes, 0, false or no`);
      if (!on) continue;
      values[0] = 'true';
    }
    raw.set(spec.long, { values, where: name });
  }
}

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
  if (on === undefined) fail(`PROA_DISABLED="${text}" is not a switch value; expected 1, true, yes, 0, false or no`);
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
  if (split.command.length > 0) fail(`check takes options only, not a command (got "${split.command[0]}"); to run a program named check: proa -- check`);
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

/** Options and environment, checked, into a Config. */
function configFrom(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv, command: string, args: string[]): Config {
  mergeEnv(raw, env);
  const one = (long: string): RawValue | undefined => raw.get(long);
  const list = (long: string): string[] => raw.get(long)?.values ?? [];
  const on = (long: string): boolean => raw.has(long);

  const url = (long: string): URL[] =>
    list(long).map((text) => {
      let u: URL | undefined;
      try {
        u = new URL(text);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        fail(`${raw.get(long)!.where}: "${text}" is not an http(s) URL; expected e.g. http://127.0.0.1:15020/quitquitquit`);
      }
      const problem = credentialProblem(u);
      if (problem) fail(`${raw.get(long)!.where}: "${text}" cannot be used: ${problem}`);
      return u;
    });

  const duration = (long: string, zero: 'allowed' | 'invalid'): number | undefined => {
    const r = one(long);
    if (!r) return undefined;
    const text = r.values[0]!;
    const ms = parseDuration(text);
    if (ms === undefined) fail(`${r.where}: "${text}" is not a duration; expected a number with a unit (ms, s, m, h) such as 500ms, 5s or 1m30s`);
    if (ms === Infinity) fail(`${r.where}: "${text}" is too long; the largest duration is ${maxDurationText}`);
    if (ms === 0 && zero === 'invalid') fail(`${r.where}: "${text}" must be greater than zero`);
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
        fail(`${raw.get(long)!.where}: "${v}" is not a container name; expected a DNS label (lower-case letters, digits, '-')`);
      }
    }
    return values;
  };

  let killSignal: KillSignal = { name: 'SIGTERM', number: constants.signals.SIGTERM };
  const sig = one('kill-signal');
  if (sig) {
    const parsed = parseSignal(sig.values[0]!);
    if (!parsed) fail(`${sig.where}: "${sig.values[0]}" is not a signal; expected a name such as TERM, SIGINT or KILL, or a number`);
    killSignal = parsed;
  }

  const kill = list('kill');
  for (const k of kill) {
    if (k.includes('/')) fail(`${raw.get('kill')!.where}: "${k}" is not a process name; expected an executable's base name such as envoy`);
  }

  let logFormat: LogFormat = 'json';
  const fmt = one('log-format');
  if (fmt) {
    const v = fmt.values[0]!.trim().toLowerCase();
    if (v !== 'json' && v !== 'text') fail(`${fmt.where}: "${fmt.values[0]}" is not a log format; expected json or text`);
    logFormat = v;
  }

  let logLevel: Level = 'info';
  const proaLog = env.PROA_LOG;
  if (proaLog !== undefined && proaLog !== '') {
    const v = proaLog.trim().toLowerCase();
    if (!isLevel(v)) fail(`PROA_LOG="${proaLog}" is not a log level; expected error, warn, info or debug`);
    logLevel = v;
  } else if (env.RUST_LOG) {
    logLevel = levelFromRustLog(env.RUST_LOG) ?? logLevel;
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
    readyTimeoutMs: duration('ready-timeout', 'invalid'),
    // The API server takes whole seconds. 50 s bounds the time to notice a dead
    // connection to 55 s (see kube/watch.ts), well under load balancers' idle timeouts.
    watchTimeoutSeconds: watchTimeoutMs === undefined ? 50 : Math.max(1, Math.ceil(watchTimeoutMs / 1000)),
    logFormat,
    logLevel,
    serviceAccountDir: env.PROA_SERVICEACCOUNT_DIR || defaultServiceAccountDir,
    keepProaEnv: on('keep-proa-env'),
  };
  const both = config.waitFor.find((n) => config.ignore.includes(n));
  if (both) fail(`container "${both}" is both in --wait-for and --ignore; name it in one of them`);
  return config;
}
