// Structured logging on stderr: one JSON object per line (the default, for log
// collectors) or aligned text for people. stderr writes are synchronous on Linux for
// files, pipes and terminals, so nothing is lost when proa exits right after a line.

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

/** A value as people read it: bare when it can be, lists comma-separated, objects as JSON. */
function textValue(value: unknown): string {
  const quote = (s: string): string => (/^[^\s"=,]+$/.test(s) ? s : JSON.stringify(s));
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : quote(String(v)))).join(',') || '-';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
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
  const emit = (level: Level, msg: string, fields: Fields = {}): void => {
    if (levels.indexOf(level) > max) return;
    const time = new Date().toISOString();
    if (format === 'json') {
      write(JSON.stringify({ time, level, msg, ...fields }) + '\n');
    } else {
      const extra = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}=${textValue(v)}`)
        .join('');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
    }
  };
  return {
    error: (msg, fields) => emit('error', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    debug: (msg, fields) => emit('debug', msg, fields),
  };
}
