// Runs the built binary as a test's subject: its log lines parsed as they come, waits
// on events (a line, an exit), never on sleeps.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { binary } from '../testbed/paths.ts';

export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Run {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  /** stderr lines that are not JSON (usage errors). */
  readonly text: string[] = [];
  stdout = '';
  readonly exited: Promise<Exit>;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(command: string, args: string[], env: Record<string, string>, stdio: StdioOptions = ['ignore', 'pipe', 'pipe']) {
    this.child = spawn(command, args, { env, stdio });
    let partial = '';
    this.child.stderr!.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.#line(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        if (partial) this.#line(partial);
        resolve({ code, signal });
      });
    });
  }

  #line(line: string): void {
    if (process.env.PROA_TEST_VERBOSE) process.stderr.write(`  | ${line}\n`);
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      this.text.push(line);
      return;
    }
    this.lines.push(parsed);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(parsed)) return true;
      w.resolve(parsed);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) that matches; rejects if proa exits first. */
  waitFor(match: string | RegExp | ((l: LogLine) => boolean)): Promise<LogLine> {
    const m = typeof match === 'function' ? match
      : typeof match === 'string' ? (l: LogLine) => l.msg === match : (l: LogLine) => match.test(l.msg);
    const seen = this.lines.find(m);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match: m, resolve });
      void this.exited.then(() => {
        const late = this.lines.find(m);
        if (late) resolve(late);
        else reject(new Error(`proa exited before logging ${String(match)}; log:\n${this.dump()}`));
      });
    });
  }

  /** Resolves once the command's stdout (proa passes it through) contains `text`. */
  async waitForStdout(text: string): Promise<void> {
    while (!this.stdout.includes(text)) {
      const more = new Promise<boolean>((resolve) => {
        this.child.stdout!.once('data', () => resolve(true));
        void this.exited.then(() => resolve(false));
      });
      if (!(await more) && !this.stdout.includes(text)) {
        throw new Error(`proa exited before its command printed ${JSON.stringify(text)}; stdout: ${this.stdout}`);
      }
    }
  }

  has(match: string | RegExp): boolean {
    return this.lines.some((l) => (typeof match === 'string' ? l.msg === match : match.test(l.msg)));
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  dump(): string {
    return [...this.lines.map((l) => JSON.stringify(l)), ...this.text].join('\n');
  }
}

/** The binary with a clean environment: PATH, plus what the test gives. */
export function proa(args: string[], env: Record<string, string> = {}): Run {
  return new Run(binary, args, { PATH: process.env.PATH ?? '/usr/bin:/bin', PROA_LOG: 'debug', ...env });
}
