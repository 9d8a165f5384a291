// The README as a reader meets it: what they want first comes first, the two set-up
// commands are there as they are, every link leads somewhere, and what it says of the
// project (version, license) is so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { node, root, tempDir } from '../testbed/paths.ts';
import { proa, Run } from './proa.ts';

const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('the README: putting proa in an image and the first Job within its first 100 lines; the two set-up commands', () => {
  const first = readme.split('\n').slice(0, 100).join('\n');
  assert.match(first, /^## Put proa in your image$/m);
  assert.match(first, /^## Your first Job$/m);
  assert.match(first, /^docker build -t proa \.$/m);
  const commands = readme.split('\n').filter((l) => /^npm ci && npm (run \w+|test)\b/.test(l));
  assert.deepEqual(commands.map((l) => l.replace(/\s+#.*$/, '')), ['npm ci && npm run demo', 'npm ci && npm test']);
});

test('every relative link of the README and docs/ leads to a file of the repository', () => {
  for (const doc of ['README.md', 'docs/reliability.md', 'docs/benchmarks.md', 'testbed/README.md']) {
    const text = readFileSync(join(root, doc), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      assert.ok(existsSync(join(root, dirname(doc), target!)), `${doc} links ${target}`);
    }
  }
});

test('the license the README names is the LICENSE file; the version the README shows is --version\'s', async () => {
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  assert.match(readFileSync(join(root, 'package.json'), 'utf8'), /"license": "Apache-2\.0"/);
  const run = proa(['--version']);
  await run.exited;
  const version = run.stdout.match(/^proa (\S+) /)![1]!;
  for (const [, mentioned] of readme.matchAll(/\bproa (\d+\.\d+\.\d+)\b/g)) assert.equal(mentioned, version);
  assert.doesNotMatch(readme, /\bbefore 0\.\d/, 'no history of versions that did not exist');
});

test('npm test says once at its start and once at its end which tier did not run, and how to run it', { timeout: 120_000 }, async () => {
  // The runner itself, on one small file, with no kube binaries where it looks.
  const run = new Run(node, [join(root, 'test', 'run.ts'), join('test', 'kill.test.ts')],
    { PATH: process.env.PATH ?? '', PROA_KUBE_CACHE: tempDir('no-kube-') });
  assert.equal((await run.exited).code, 0, run.stdout);
  const notes = run.stdout.split('\n').filter((l) => l.startsWith('NOTE: the real-API-server tier was NOT run'));
  assert.equal(notes.length, 2, run.stdout);
  assert.ok(run.stdout.indexOf(notes[0]!) < run.stdout.indexOf('TAP version'), 'one before the tests');
  // The closing notes are the last lines, one per tier not run (the portable folder's too,
  // on a clone where npm run dist has not run): the real API server's is among them.
  const lines = run.stdout.trimEnd().split('\n');
  let closing = lines.length;
  while (closing > 0 && lines[closing - 1]!.startsWith('NOTE: ')) closing--;
  assert.ok(lines.slice(closing).includes(notes[1]!), `one among the closing notes: ${lines.slice(-4).join('\n')}`);
  assert.match(notes[0]!, /npm run kube:build/);
  assert.doesNotMatch(run.stdout, /# SKIP/);
});

test('every COPY source of the Dockerfiles is a file of the repository, and the example application builds and runs as its stages do', async (t) => {
  // Each Dockerfile with its build context: the repository for the top one, examples/ for the example's.
  for (const [file, context] of [['Dockerfile', root], [join('examples', 'Dockerfile'), join(root, 'examples')]] as const) {
    const text = readFileSync(join(root, file), 'utf8').replace(/\\\n/g, ' ');
    const copies = [...text.matchAll(/^\s*COPY\s+(?!.*--from=)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).filter((w) => !w.startsWith('--')));
    assert.ok(copies.length > 0, file);
    for (const words of copies) {
      for (const source of words.slice(0, -1)) assert.ok(existsSync(join(context, source)), `${file}: COPY ${source}: no such file in ${context}`);
    }
  }
  // The Alpine and Debian stages' CMD, as their image runs it.
  const script = execFileSync('sh', [join(root, 'examples', 'report.sh')]).toString();
  assert.match(script, /^report 24h: generated at \S+ on \S+\n$/);
  // The distroless stage's program, built as its stage builds it, where Go is installed.
  const go = ['/usr/local/go/bin/go', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'go'))].find((g) => existsSync(g));
  if (!go) return t.diagnostic('no Go here: the example Go program was not built');
  const out = join(tempDir(), 'report');
  execFileSync(go, ['build', '-o', out, '.'], { cwd: join(root, 'examples'), env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' } });
  assert.match(execFileSync(out, ['--since=24h']).toString(), /^report 24h0m0s: generated at \S+ on \S+\n$/);
});
