// The termination message: proa's summary of the Job (story.ts), written where the
// kubelet reads it when the container ends, so that `kubectl describe pod` shows it
// under the container's state and `kubectl get pod -o jsonpath=...terminated.message`
// returns it. The path is the container's termination-log mount, found in
// /proc/self/mountinfo (its spec's terminationMessagePath, whatever it says), else
// /dev/termination-log where that file exists. Nothing is created outside a Pod, and a
// file that cannot be written changes nothing else.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { terminationLogFromMountinfo } from './kube/config.ts';

const fallback = '/dev/termination-log';

export function terminationLogPath(mountinfo = '/proc/self/mountinfo'): string | undefined {
  try {
    const found = terminationLogFromMountinfo(readFileSync(mountinfo, 'utf8'));
    if (found) return found;
  } catch {
    // No mountinfo: not Linux, or /proc not mounted.
  }
  return existsSync(fallback) ? fallback : undefined;
}

/** Writes `text` (already redacted and cut) to the termination log; false when there is none or it cannot be written. */
export function leaveTerminationMessage(text: string, path = terminationLogPath()): boolean {
  if (!path) return false;
  try {
    writeFileSync(path, text);
    return true;
  } catch {
    return false;
  }
}
