// Start-up of two builds of proa side by side, for a change that must not move it (a
// refactor): `node bench/before-after.ts OLD_BINARY [NEW_BINARY] [RUNS]` (NEW defaults to
// dist/proa-linux-x64, RUNS to 60). The rows are the table's start-up rows (`--no-wait --
// /bin/true`, and the empty SEA as the floor), run interleaved so that the machine's
// drift falls on both alike, in an order that alternates each round (the second of two
// proa runs in a row is measurably faster here, so a fixed order would favour one);
// each half of the runs is summarised apart as well, so the run-to-run spread is there
// to compare the difference with.
import { existsSync } from 'node:fs';
import { binary } from '../testbed/paths.ts';
import { startup, type Command } from './footprint.ts';
import { summarise } from './stats.ts';
import { floor } from './tools.ts';

const [before, after = binary, runsText = '60'] = process.argv.slice(2);
const runs = Number(runsText);
if (!before || !existsSync(before) || !existsSync(after) || !Number.isInteger(runs) || runs < 4) {
  console.error('usage: node bench/before-after.ts OLD_BINARY [NEW_BINARY] [RUNS >= 4]');
  process.exit(2);
}
const commands: Command[] = [
  { name: 'floor: an empty SEA on the same base', argv: [floor()] },
  { name: 'before: proa --no-wait -- /bin/true', argv: [before, '--no-wait', '--', '/bin/true'] },
  { name: 'after: proa --no-wait -- /bin/true', argv: [after, '--no-wait', '--', '/bin/true'] },
];
console.log(`before: ${before}\nafter:  ${after}`);
const walls: Record<string, number[]> = Object.fromEntries(commands.map((c) => [c.name, []]));
for (let i = 0; i < runs; i++) {
  const [floorRun, b, a] = commands as [Command, Command, Command];
  const round = await startup(i % 2 === 0 ? [floorRun, b, a] : [floorRun, a, b], 1);
  for (const c of commands) walls[c.name]!.push(...round[c.name]!);
}
const f = (n: number): string => n.toFixed(1).padStart(7);
console.log(`start-up, ms (${runs} runs each, interleaved)   median     min     p99  | median of the 1st half, of the 2nd`);
for (const c of commands) {
  const all = walls[c.name]!;
  const s = summarise(all);
  const halves = [all.slice(0, all.length / 2), all.slice(all.length / 2)].map((h) => summarise(h).median);
  console.log(`${c.name.slice(0, 44).padEnd(44)} ${f(s.median)} ${f(s.min)} ${f(s.p99)}  | ${f(halves[0]!)} ${f(halves[1]!)}`);
}
const [b, a] = [summarise(walls[commands[1]!.name]!).median, summarise(walls[commands[2]!.name]!).median];
console.log(`after - before: ${(a - b).toFixed(2)} ms (${(((a - b) / b) * 100).toFixed(1)}%)`);
