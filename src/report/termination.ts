// The termination message: proa's summary of the Job (story.ts), written where the
// kubelet reads it when the container ends, so that `kubectl describe pod` shows it
// under the container's state and `kubectl get pod -o jsonpath=...terminated.message`
// returns it. The path, in order: the Pod spec's terminationMessagePath for proa's own
// container (once the spec is known); the container's termination-log mount found in
// /proc/self/mountinfo (without API access: the same file, wherever it is mounted);
// /dev/termination-log. Each only where that file exists (the kubelet made it) and is
// still empty (else it is the program's own message): nothing is created or overwritten,
// and a file that cannot be written changes nothing else.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { terminationLogFromMountinfo } from '../kube/config.ts';

const fallback = '/dev/termination-log';

export function terminationLogPath(fromSpec?: string, mountinfo = '/proc/self/mountinfo'): string | undefined {
  if (fromSpec && isFile(fromSpec)) return fromSpec;
  try {
    const found = terminationLogFromMountinfo(readFileSync(mountinfo, 'utf8'));
    if (found) return found;
  } catch {
    // No mountinfo: not Linux, or /proc not mounted.
  }
  return existsSync(fallback) ? fallback : undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Writes `text` (already redacted and cut) to the termination log, only while it is empty:
 * the kubelet makes it empty, so a file with content holds the program's own message (kept:
 * it knows better why it failed), or is not a termination log at all (an API answer naming
 * another file is never a reason to overwrite one). False when nothing was written.
 */
export function leaveTerminationMessage(text: string, path = terminationLogPath()): boolean {
  if (!path) return false;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r+');
    if (fstatSync(fd).size > 0) return false;
    writeSync(fd, text);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
