// What proa costs every Pod before it does anything: start-up time and memory against
// the floor (the same Node base running an empty SEA built the same way), and the
// bytes it adds to an image.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { binary, node, root } from '../test/proa.ts';
import { clock } from './tools.ts';

export interface Command {
  name: string;
  argv: string[];
}

const env = { PATH: process.env.PATH ?? '' };

/** Wall time of each command, `runs` times, interleaved so that the machine's drift falls on all alike. */
export function startup(commands: Command[], runs: number): Record<string, number[]> {
  const times: Record<string, number[]> = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < runs + 2; i++) {
    for (const c of commands) {
      const start = performance.now();
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { stdio: 'ignore', env });
      const t = performance.now() - start;
      if (r.status !== 0) throw new Error(`${c.argv.join(' ')} exited ${r.status}`);
      if (i >= 2) times[c.name]!.push(t); // the first two warm the page cache
    }
  }
  return times;
}

/** Peak RSS (KiB, wait4's ru_maxrss) of each command, `runs` times. */
export function peakRss(commands: Command[], runs: number): Record<string, number[]> {
  const out: Record<string, number[]> = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const c of commands) {
      const r = spawnSync(clock(), ['run', ...c.argv], { encoding: 'utf8', env });
      out[c.name]!.push(Number(r.stderr.match(/clock exited \d+ maxrss (\d+)/)?.[1]));
    }
  }
  return out;
}

export interface Size {
  artifact: string;
  bytes: number;
  gzipBytes: number;
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}

/** The single file and the portable tarball: raw (unpacked) and gzip-compressed (an image layer). */
export function sizes(): Size[] {
  const out: Size[] = [{ artifact: 'single file (x64)', bytes: statSync(binary).size, gzipBytes: gzipSync(readFileSync(binary)).length }];
  const dist = join(root, 'dist');
  const tarball = existsSync(dist) ? readdirSync(dist).find((f) => /^proa-.*-linux-x64\.tar\.gz$/.test(f)) : undefined;
  const folder = join(dist, 'portable-x64', 'opt', 'proa');
  if (tarball && existsSync(folder)) out.push({ artifact: '/opt/proa folder (x64)', bytes: folderBytes(folder), gzipBytes: statSync(join(dist, tarball)).size });
  return out;
}

export const reference: Command[] = [
  { name: '/bin/true', argv: ['/bin/true'] },
  { name: 'node -e 0', argv: [node, '-e', '0'] },
];
