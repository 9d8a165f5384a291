// cli/: the command line and the environment, checked into a Config before anything
// runs (argv.ts: the command line's shape; read.ts: each value; config.ts: the Config;
// options.ts: the table and the usage text; values.ts: the parsers).
//
// Options, environment and usage -> a typed Config. Pure: the caller passes argv and
// env, and every problem is a UsageError (one line, exit code 2) before anything runs.
import { isLevel, levelFromRustLog, type Level, type LogFormat } from '../shared/log.ts';
import { shownValue } from '../shared/urls.ts';
import { parseDuration, parseSignal, parseSwitch, type KillSignal } from './values.ts';
import { defaultServiceAccountDir, envName, options, usage } from './options.ts';
import { fail, mergeEnv, splitArgv, UsageError } from './argv.ts';
import { configFrom, type Config } from './config.ts';

export { defaultServiceAccountDir, parseDuration, parseSignal, usage, UsageError, type KillSignal };
export type { Config } from './config.ts';
export type { Sourced, TcpEndpoint } from './read.ts';

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

/** The options that say which Pod and which container are proa's: a bad one leaves nothing safe to send. */
const identityOptions: ReadonlySet<string> = new Set(['pod', 'namespace', 'container']);

/**
 * After a usage error: the Config of what did parse, for the shutdown actions alone
 * (shutdown/salvage.ts' rule for bad input inside a Pod), or why nothing may be sent. Each bad
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

