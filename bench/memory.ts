// Memory as a Pod pays it. Peak RSS counts every page the binary touched, shared ones
// included, and depends on the page cache (the same file read 57 and 45 MiB minutes
// apart); what a container's limit and a node's budget feel is the private part (USS:
// pages no other process maps) and, with many copies on a node, the proportional share
// (PSS: each shared page divided among the processes that map it). Both from
// /proc/PID/smaps_rollup, for proa and for the floor (the empty SEA on the same base,
// kept alive).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, Lines, sea } from './tools.ts';

export interface Footprint {
  /** KiB: pages no other process maps (the binary's too, when no other copy runs). */
  uss: number;
  /** KiB */
  pss: number;
  /** KiB: anonymous memory (heap, stacks), this process's own however many copies run. */
  anon: number;
}

/** USS and PSS of a live process, in KiB. */
export function footprintOf(pid: number): Footprint {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(rollup.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
  return { uss: field('Private_Clean') + field('Private_Dirty'), pss: field('Pss'), anon: field('Anonymous') };
}

/** The floor, kept alive: the empty SEA's base with a timer, saying "ready" once it runs. */
export function idleFloor(): string {
  mkdirSync(benchDir, { recursive: true });
  const entry = join(benchDir, 'idle.js');
  writeFileSync(entry, "console.log('ready'); setInterval(() => {}, 1 << 30);\n");
  return sea('floor-idle', entry);
}

/** `bin` copied to a file of its own, whose pages no other process maps. */
export function aloneCopy(bin: string): string {
  const copy = join(benchDir, 'proa-alone');
  mkdirSync(benchDir, { recursive: true });
  copyFileSync(bin, copy);
  chmodSync(copy, 0o755);
  return copy;
}

/**
 * `copies` processes of `argv` at once, each measured once every one of them has said
 * "ready" on stdout (proa: its command's line), then all ended. KiB per copy.
 */
export async function together(argv: string[], copies: number): Promise<Footprint[]> {
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < copies; i++) children.push(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '' } }));
    await Promise.all(children.map((c) => new Lines(c.stdout!).next(/^ready$/)));
    return children.map((c) => footprintOf(c.pid!));
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}
