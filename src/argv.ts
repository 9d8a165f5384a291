// argv and the environment into the raw values of each option, before any is checked:
// `--flag=value`, `--flag value`, short clusters, `--` and the first non-option argument
// ending the options; PROA_* variables where no flag was given. Every problem is a
// UsageError (one line, exit code 2), its text passed through the one redaction.
import { options, envName, type OptionSpec } from './options.ts';
import { redact } from './urls.ts';
import { parseSwitch } from './values.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

const seeHelp = " (see 'proa --help')";

/** One line, credentials in any URL it quotes removed. */
export function fail(message: string): never {
  throw new UsageError(redact(`proa: ${message}${seeHelp}`).replace(/[\r\n]+/g, ' '));
}

export interface RawValue {
  values: string[];
  /** `--flag` or the environment variable's name. */
  where: string;
}

export interface Split {
  raw: Map<string, RawValue>;
  command: string[];
  help: boolean;
  version: boolean;
}

/**
 * Option parsing stops at `--` or at the first argument that is not an option, so
 * everything after belongs to the command even when it starts with `-`.
 */
export function splitArgv(argv: readonly string[], lenient = false): Split {
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
export function mergeEnv(raw: Map<string, RawValue>, env: NodeJS.ProcessEnv): void {
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
