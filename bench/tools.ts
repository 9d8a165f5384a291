// The benchmark's own tools, built on first use into .build/bench/: the clock (a static
// C program: bench/clock.c) and SEA binaries built exactly as the release is, through
// build.mjs --bench-sea (the empty one that is proa's floor, and variants).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { firstMatch } from '../testbed/api/events.ts';
import { root } from '../testbed/paths.ts';

export const benchDir = join(root, '.build', 'bench');

/** Builds `out` by `build` unless it exists with the same inputs (a stamp beside it). */
function cached(out: string, inputs: string, build: () => void): string {
  const stamp = `${out}.stamp`;
  const hash = createHash('sha256').update(inputs).digest('hex');
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return out;
  mkdirSync(benchDir, { recursive: true });
  build();
  writeFileSync(stamp, hash);
  return out;
}

/** bench/clock.c, compiled static (needs gcc and the C library's static archive: Debian's gcc and libc6-dev). */
export function clock(): string {
  const source = join(root, 'bench', 'clock.c');
  const out = join(benchDir, 'clock');
  return cached(out, readFileSync(source, 'utf8'), () => execFileSync('gcc', ['-O2', '-static', '-o', out, source], { stdio: 'inherit' }));
}

/** A SEA of `entry` on proa's Node base with proa's SEA settings, changed by `overrides`. */
export function sea(name: string, entry: string, overrides: Record<string, unknown> = {}): string {
  const out = join(benchDir, name);
  const inputs = readFileSync(entry, 'utf8') + JSON.stringify(overrides) + readFileSync(join(root, 'build.mjs'), 'utf8');
  return cached(out, inputs, () => execFileSync(process.execPath, [join(root, 'build.mjs'), '--bench-sea', out, entry, JSON.stringify(overrides)], { stdio: ['ignore', 'ignore', 'inherit'] }));
}

/** The empty SEA: Node's own start-up and memory, the floor proa is judged against. */
export function floor(): string {
  const empty = join(benchDir, 'empty.js');
  mkdirSync(benchDir, { recursive: true });
  if (!existsSync(empty)) writeFileSync(empty, '');
  return sea('floor', empty);
}

/** Lines of a stream, to wait on (the test bed's firstMatch). */
export class Lines extends EventEmitter {
  readonly all: string[] = [];

  constructor(stream: NodeJS.ReadableStream) {
    super();
    createInterface({ input: stream }).on('line', (line) => {
      this.all.push(line);
      this.emit('line', line);
    });
  }

  /** The first line (seen or to come) that matches. */
  async next(re: RegExp): Promise<RegExpMatchArray> {
    return (await firstMatch(this, 'line', this.all, (line: string) => re.test(line))).match(re)!;
  }
}

/** A process's children (one level), from /proc. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** VmRSS and VmHWM of a process, in KiB. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

