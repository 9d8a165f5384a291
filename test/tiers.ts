// The optional tiers of `npm test`, and why one cannot run here: test/run.ts says so once
// at the start and once at the end of the run; the tier's file registers none of its
// tests (rather than a # SKIP line each, lost among a thousand lines of TAP).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../testbed/paths.ts';

/** Why the portable-folder tier cannot run here, or undefined. */
export function portableMissing(): string | undefined {
  const folder = join(root, 'dist', 'portable-x64', 'opt', 'proa', 'proa');
  if (!existsSync(folder)) return 'no portable build: run npm run dist (needs Debian\'s patchelf)';
  if (!existsSync('/bin/busybox') || !existsSync('/usr/lib/x86_64-linux-musl/libc.so')) return 'it needs Debian\'s busybox-static and musl';
  if (process.getuid?.() !== 0) return 'its chroot needs root';
  return undefined;
}
