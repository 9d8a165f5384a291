// The values options take: durations, signals, switches. Pure parsers; each returns
// undefined for text it cannot read, and read.ts names the option in the error.
import { constants } from 'node:os';
import { maxDurationMs } from '../shared/limits.ts';

export interface KillSignal {
  /** SIGTERM, or SIGRTMIN+N for a real-time signal (which Node has no name for). */
  name: string;
  number: number;
}

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `1m30s`, `500ms`, `2h`, or a bare number of seconds. Returns milliseconds, or
 * Infinity past maxDurationMs (the caller names the limit), or undefined for text that
 * is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  let total: number;
  if (/^\d+(\.\d+)?$/.test(s)) {
    total = Number(s) * 1000;
  } else {
    if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
    total = 0;
    for (const [, num, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(num) * unitMs[unit!]!;
  }
  const ms = Math.round(total);
  return ms > maxDurationMs || !Number.isFinite(ms) ? Infinity : ms;
}

// Real-time signals by glibc's numbering: SIGRTMIN is 34 (the kernel's 32, less the two
// glibc keeps for itself), SIGRTMAX 64. musl's SIGRTMIN is 35: for a musl sidecar that
// counts its real-time signals from SIGRTMIN, give the number.
const rtMin = 34;
const rtMax = 64;

function rtName(n: number): string {
  return n - rtMin <= rtMax - n ? (n === rtMin ? 'SIGRTMIN' : `SIGRTMIN+${n - rtMin}`) : (n === rtMax ? 'SIGRTMAX' : `SIGRTMAX-${rtMax - n}`);
}

export function parseSignal(text: string): KillSignal | undefined {
  const s = text.trim();
  const table = constants.signals as Record<string, number>;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= rtMin && n <= rtMax) return { name: rtName(n), number: n };
    const name = Object.keys(table).find((k) => table[k] === n);
    return name ? { name, number: n } : undefined;
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const rt = name.match(/^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/);
  if (rt) {
    const base = rt[1] === 'MIN' ? rtMin : rtMax;
    const n = base + (rt[2] === '-' ? -1 : 1) * Number(rt[3] ?? 0);
    return n >= rtMin && n <= rtMax ? { name: rtName(n), number: n } : undefined;
  }
  const n = Object.hasOwn(table, name) ? table[name] : undefined;
  return n === undefined ? undefined : { name, number: n };
}

export function parseSwitch(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  return undefined;
}
