// One option's raw values (argv.ts) read as the type it holds: URLs, HOST:PORT,
// durations, names, a signal, one of a few words. A bad value fails with the option (or
// variable) that gave it and what is expected; a secret list's items are never quoted.
import { constants } from 'node:os';
import { maxDurationText } from '../shared/limits.ts';
import { credentialProblem, display, isLocalHost, shownValue } from '../shared/urls.ts';
import { parseDuration, parseSignal, type KillSignal } from './values.ts';
import { fail, type RawValue } from './argv.ts';

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

/**
 * A value of a list option as a usage error quotes it. From a PROA_* list that holds an
 * `@`, not at all: the list was split at commas, and a comma inside a password leaves
 * pieces of it (`http://admin:S3`) that no redaction would recognise.
 */
function show(r: RawValue, text: string): string {
  if (!r.secret) return `"${shownValue(text)}"`;
  return `item ${r.values.indexOf(text) + 1} of ${r.values.length} (not shown: the variable holds credentials; a comma inside a URL there is written %2C)`;
}

/** Each option's raw values, read as the type it holds; hosts outside the Pod noted on the way. */
export class Values {
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

  /** A single value (never a secret list's item), quoted. */
  #badValue(r: RawValue, text: string, what: string): never {
    return fail(`${r.where}: "${shownValue(text)}" ${what}`);
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
    if (ms === undefined) this.#badValue(r, text, 'is not a duration; expected a number with a unit (ms, s, m, h) such as 500ms, 5s or 1m30s');
    if (ms === Infinity) this.#badValue(r, text, `is too long; the largest duration is ${maxDurationText}`);
    if (ms === 0 && zero === 'invalid') this.#badValue(r, text, 'must be greater than zero');
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
    if (!parsed) this.#badValue(sig, sig.values[0]!, 'is not a signal; expected a name such as TERM, SIGINT or KILL, or a number');
    return parsed;
  }

  /** One of `allowed`, case and spaces aside; `fallback` when the option is not given. */
  choice<T extends string>(long: string, allowed: readonly T[], fallback: T, what: string): T {
    const r = this.#raw.get(long);
    if (!r) return fallback;
    const v = r.values[0]!.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) this.#badValue(r, r.values[0]!, what);
    return v as T;
  }
}
