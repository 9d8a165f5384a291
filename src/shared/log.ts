// Structured logging on stderr: one JSON object per line (the default, for log
// collectors) or aligned text for people. stderr writes are synchronous on Linux for
// files, pipes and terminals, so nothing is lost when proa exits right after a line.
// Every line passes urls.ts' redaction, and a line is one line: control characters in
// any field (a waiting reason from the API holding a newline) are escaped, so no value
// can forge a line of its own.
import { redact } from './urls.ts';

export const levels = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof levels)[number];
export type LogFormat = 'json' | 'text';
export type Fields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
}

export function isLevel(value: string): value is Level {
  return (levels as readonly string[]).includes(value);
}

// Rust's env_logger levels, for RUST_LOG compatibility: trace folds into debug.
function rustLevel(value: string): Level | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'trace') return 'debug';
  if (v === 'off') return 'error';
  return isLevel(v) ? v : undefined;
}

/**
 * The level from RUST_LOG as the Rust proa read it: a bare level ("debug") or a
 * `proa=<level>` directive among comma-separated ones. Directives for other crates
 * are not ours; anything unreadable is ignored since RUST_LOG may serve other programs.
 */
export function levelFromRustLog(value: string): Level | undefined {
  let bare: Level | undefined;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      bare = rustLevel(part) ?? bare;
    } else if (part.slice(0, eq).trim() === 'proa') {
      const level = rustLevel(part.slice(eq + 1));
      if (level) return level;
    }
  }
  return bare;
}

const controls = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const hasControl = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Control characters as escapes (\n, \u001b), valid inside a JSON string too. */
export function escapeControls(s: string): string {
  return s.replace(controls, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as people read it: bare when it can be, lists comma-separated, objects as JSON. */
function textValue(value: unknown): string {
  const quote = (s: string): string => (/^[^\s"=,]+$/.test(s) && !hasControl.test(s) ? s : escapeControls(JSON.stringify(s)));
  const json = (v: unknown): string => escapeControls(JSON.stringify(v) ?? String(v));
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' && v !== null ? json(v) : quote(String(v)))).join(',') || '-';
  if (typeof value === 'object' && value !== null) return json(value);
  return quote(String(value));
}

// A log line must never take proa down: if whoever reads stderr goes away (EPIPE),
// the lines are lost, and the command and its exit code are not.
process.stderr.on('error', () => {});

export function createLogger(
  format: LogFormat,
  threshold: Level,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const max = levels.indexOf(threshold);
  const line = (time: string, level: Level, msg: string, fields: Fields): string => {
    if (format === 'json') return escapeControls(JSON.stringify({ time, level, msg, ...fields }));
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ` ${escapeControls(k)}=${textValue(v)}`)
      .join('');
    return `${time} ${level.toUpperCase().padEnd(5)} ${escapeControls(msg)}${extra}`;
  };
  const emit = (level: Level, msg: string, fields: Fields = {}): void => {
    if (levels.indexOf(level) > max) return;
    const time = new Date().toISOString();
    let text: string;
    try {
      text = line(time, level, msg, fields);
    } catch (err) {
      // A field JSON cannot hold (nested past the stack, a cycle): the line, without it.
      text = line(time, level, msg, { fieldsUnprintable: err instanceof Error ? err.name : 'error' });
    }
    try {
      write(redact(text) + '\n');
    } catch {
      // stderr gone (EPIPE, EBADF): the line is lost, never the run.
    }
  };
  return {
    error: (msg, fields) => emit('error', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    debug: (msg, fields) => emit('debug', msg, fields),
  };
}
