// `npm run kube:build` from two clones at once: the cache they share is written by one
// build at a time, the other says it waits, and nothing is built twice. A stand-in for
// `go` (PROA_GO) that takes a moment per tool keeps it to seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { node, root, tempDir } from '../testbed/paths.ts';
import { Run } from './proa.ts';

test('kube:build from two clones at once: one builds, the other waits and says so; each tool built once', async () => {
  const dir = tempDir();
  const log = join(dir, 'builds');
  const go = join(dir, 'go');
  // `go version` answers; `go build ... -o OUT PKG` logs PKG, takes a moment, writes OUT.
  writeFileSync(go, `#!/bin/sh
[ "$1" = version ] && { echo "go version go0.0 stand-in"; exit 0; }
out=""; prev=""
for a in "$@"; do [ "$prev" = -o ] && out="$a"; prev="$a"; done
echo "$prev" >> "${log}"
sleep 0.3
echo built > "$out"
`);
  chmodSync(go, 0o755);
  const cache = join(dir, 'cache');
  const env = { PATH: process.env.PATH ?? '', PROA_GO: go, PROA_KUBE_CACHE: cache };
  const builds = [0, 1].map(() => new Run(node, [join(root, 'testbed', 'go', 'build.ts')], env, ['ignore', 'pipe', 'pipe']));
  const exits = await Promise.all(builds.map((b) => b.exited));
  assert.deepEqual(exits.map((e) => e.code), [0, 0], builds.map((b) => b.stdout + b.text.join('\n')).join('\n---\n'));
  const built = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(new Set(built).size, built.length, `built twice: ${built.join(', ')}`);
  assert.equal(builds.filter((b) => /another build \(pid \d+\) is writing .*; waiting for it to finish/.test(b.stdout)).length, 1,
    builds.map((b) => b.stdout).join('\n---\n'));
  const [version] = readdirSync(cache);
  assert.deepEqual(readdirSync(join(cache, version!)).filter((f) => f.endsWith('.tmp') || f.startsWith('.build.lock')), [], 'no temporary file or lock left');
});
