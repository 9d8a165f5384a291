// What proa costs every Pod before it does anything: start-up time and memory against
// the floor (the same Node base running an empty SEA built the same way), and the
// bytes it adds to an image.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { binary, node, root } from '../testbed/paths.ts';
import { clock } from './tools.ts';

export interface Command {
  name: string;
  argv: string[];
}

const env = { PATH: process.env.PATH ?? '' };

// Spawned, not spawnSync: the quiet Job's API server runs in this process meanwhile, and
// must not be held up.
async function run(argv: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'close') as [number | null];
  return { code, stderr };
}

/** Wall time of each command, `runs` times, interleaved so that the machine's drift falls on all alike. */
export async function startup(commands: Command[], runs: number): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < runs + 2; i++) {
    for (const c of commands) {
      const start = performance.now();
      const r = await run(c.argv);
      const t = performance.now() - start;
      if (r.code !== 0) throw new Error(`${c.argv.join(' ')} exited ${r.code}`);
      if (i >= 2) times[c.name]!.push(t); // the first two warm the page cache
    }
  }
  return times;
}

/** Peak RSS (KiB, wait4's ru_maxrss) of each command, `runs` times. */
export async function peakRss(commands: Command[], runs: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const c of commands) {
      const r = await run([clock(), 'run', ...c.argv]);
      out[c.name]!.push(Number(r.stderr.match(/clock exited \d+ maxrss (\d+)/)?.[1]));
    }
  }
  return out;
}

export interface Size {
  artifact: string;
  bytes: number;
  /** gzip -6 of the file; for the folder, its tarball. */
  gzipBytes: number;
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}

/** The single file and the portable tarball: raw (unpacked) and gzip-compressed (an image layer). */
export async function sizes(): Promise<Size[]> {
  const out: Size[] = [{ artifact: 'single file (x64)', bytes: statSync(binary).size, gzipBytes: (await promisify(gzip)(readFileSync(binary))).length }];
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
