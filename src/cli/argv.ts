// argv and the environment into the raw values of each option, before any is checked:
// `--flag=value`, `--flag value`, short clusters, `--` and the first non-option argument
// ending the options; PROA_* variables where no flag was given. Every problem is a
// UsageError (one line, exit code 2), its text passed through the one redaction.
import { options, envName, type OptionSpec } from './options.ts';
import { redact, shownValue } from '../shared/urls.ts';
import { parseSwitch } from './values.ts';

export class UsageError extends Error {
  override name = 'UsageError';
  /** The flag or environment variable whose value was bad, when the message names one first. */
  readonly where: string | undefined;

  constructor(message: string, where?: string) {
    super(message);
    this.where = where;
  }
}

const seeHelp = " (see 'proa --help')";

/** One line, credentials in any URL it quotes removed. */
/** Edit distance, for did-you-mean: insertions, deletions, substitutions and swaps of neighbours. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The one candidate within two edits of `word` (the closest), if any. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c.toLowerCase());
    if (dist > 0 && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

export function fail(message: string): never {
  throw new UsageError(redact(`proa: ${message}${seeHelp}`).replace(/[\r\n]+/g, ' '), message.match(/^(--[a-z-]+|PROA_[A-Z_]+)\b/)?.[1]);
}

export interface RawValue {
  values: string[];
  /** `--flag` or the environment variable's name. */
  where: string;
  /** A PROA_* list split at commas that holds an `@`: its pieces are never quoted (read.ts' show). */
  secret?: boolean;
}

export interface Split {
  raw: Map<string, RawValue>;
  command: string[];
  /** The option whose value came last, right before the command, when no `--` stood between. */
  lastBeforeCommand?: { long: string; value: string };
  help: boolean;
  version: boolean;
}

/**
 * Option parsing stops at `--` or at the first argument that is not an option, so
 * everything after belongs to the command even when it starts with `-`.
 */
export function splitArgv(argv: readonly string[], lenient = false): Split {
  const parse = new Parse(argv, lenient);
  let i = 0;
  let last: { long: string; value: string } | undefined;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      last = undefined;
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg.length === 1) break;
    const read = arg.startsWith('--') ? parse.long(arg, i) : { at: parse.shorts(arg, i), last: undefined };
    i = read.at;
    last = read.last;
  }
  const out = parse.out;
  out.command = argv.slice(i);
  if (last && out.command.length > 0) out.lastBeforeCommand = last;
  return out;
}

/** One command line being read: the values so far, and the problems (none reported under PROA_DISABLED). */
class Parse {
  readonly #argv: readonly string[];
  readonly #lenient: boolean;
  readonly out: Split = { raw: new Map(), command: [], help: false, version: false };

  constructor(argv: readonly string[], lenient: boolean) {
    this.#argv = argv;
    this.#lenient = lenient;
  }

  // Under PROA_DISABLED nothing is checked: an unknown or incomplete option is passed over.
  #problem(message: string): void {
    if (!this.#lenient) fail(message);
  }

  #add(spec: OptionSpec, value: string): void {
    const prev = this.out.raw.get(spec.long);
    if (spec.kind === 'list' && prev) prev.values.push(value);
    else this.out.raw.set(spec.long, { values: [value], where: `--${spec.long}` });
  }

  // --help and --version end the command line: anything after them is a mistake to name.
  #nothingAfter(flag: string, i: number): void {
    if (i + 1 < this.#argv.length) this.#problem(`${flag} takes nothing after it (got "${shownValue(this.#argv[i + 1]!)}")`);
  }

  #takeValue(spec: OptionSpec, inline: string | undefined, i: number): [string, number] {
    if (inline !== undefined) return [inline, i];
    const next = this.#argv[i + 1];
    if (next === undefined || next === '--') {
      this.#problem(`--${spec.long} needs a value (${spec.arg})`);
      return ['', i];
    }
    return [next, i + 1];
  }

  /** `--name`, `--name=value` or `--name value`: where reading goes on, and the value taken, if any. */
  long(arg: string, i: number): { at: number; last: { long: string; value: string } | undefined } {
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === 'help' || name === 'version') {
      this.out[name] = true;
      this.#nothingAfter(`--${name}`, i);
      return { at: i, last: undefined };
    }
    const spec = options.find((o) => o.long === name);
    if (!spec) {
      const near = nearest(name, [...options.map((o) => o.long), 'help', 'version']);
      this.#problem(`unknown option '--${shownValue(name)}'${near ? `; did you mean --${near}?` : ''}`);
      return { at: i, last: undefined };
    }
    if (spec.kind === 'switch') {
      if (inline !== undefined) this.#problem(`--${spec.long} is a switch and takes no value (got "${shownValue(inline)}")`);
      this.#add(spec, 'true');
      return { at: i, last: undefined };
    }
    const [value, at] = this.#takeValue(spec, inline, i);
    this.#add(spec, value);
    return { at, last: { long: spec.long, value } };
  }

  /** A cluster of short options: -Kg URL, -gURL. Where reading goes on. */
  shorts(arg: string, i: number): number {
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      if (c === 'h' || c === 'V') {
        this.out[c === 'h' ? 'help' : 'version'] = true;
        if (j === arg.length - 1) this.#nothingAfter(`-${c}`, i);
        continue;
      }
      const spec = options.find((o) => o.short === c);
      if (!spec) {
        this.#problem(`unknown option '-${c}'`);
        return i;
      }
      if (spec.kind === 'switch') {
        this.#add(spec, 'true');
        continue;
      }
      // -gURL, -g=URL (as clap reads it) or -g URL.
      const rest = arg.slice(j + 1).replace(/^=/, '');
      const [value, at] = this.#takeValue(spec, rest === '' ? undefined : rest, i);
      this.#add(spec, value);
      return at;
    }
    return i;
  }
}

/** The environment's values for options not given as flags. An empty variable is unset. */
/** The variables proa reads besides the options' twins. */
const environmentOnly = ['PROA_DISABLED', 'PROA_LOG', 'PROA_SERVICEACCOUNT_DIR'];

/**
 * A PROA_* variable proa does not know, one or two letters away from one it does: most
 * likely a typo that leaves an option unset. Others are left alone (images set
 * PROA_VERSION and the like for their own reasons).
 */
export function envTypos(env: NodeJS.ProcessEnv): string[] {
  const known = [...options.map((o) => envName(o.long)), ...environmentOnly];
  return Object.keys(env).filter((k) => k.startsWith('PROA_') && !known.includes(k)).sort().flatMap((k) => {
    const near = nearest(k, known);
    return near ? [`environment variable ${k} is not one of proa's and is ignored; did you mean ${near}?`] : [];
  });
}

export function mergeEnv(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv, lenient = false): void {
  for (const spec of options) {
    if (raw.has(spec.long)) continue;
    const name = envName(spec.long);
    const text = env[name];
    if (text === undefined || text === '') continue;
    const values = spec.kind === 'list' ? text.split(',').map((v) => v.trim()).filter((v) => v !== '') : [text];
    if (spec.kind === 'switch') {
      const on = parseSwitch(text);
      if (on === undefined && lenient) continue;
      if (on === undefined) fail(`${name}="${shownValue(text)}" is not a switch value; expected 1, true, yes, 0, false or no`);
      if (!on) continue;
      values[0] = 'true';
    }
    raw.set(spec.long, { values, where: name, ...(spec.kind === 'list' && values.length > 1 && text.includes('@') ? { secret: true } : {}) });
  }
}
