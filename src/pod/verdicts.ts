// What an exit means for the Pod, in words for the log: proa's own (will the kubelet run
// it again, and then must the sidecars stay up?) and a sidecar's once proa stopped it
// (will it be started again, and will its code fail the Pod?). The decision is
// restarts.ts' rule; this module says it, with the fix. Pure.
import { recognise } from './known.ts';
import { exitAwaited } from './status.ts';
import { restartAfter } from './restarts.ts';
import type { Plan } from './plan.ts';
import type { Pod } from '../shared/pod.ts';

export interface Said {
  level: 'info' | 'warn';
  message: string;
  fields: Record<string, unknown>;
}

/**
 * proa's own container after the command exited with `code`: 'keep' when the kubelet will
 * restart it in place (the retry needs the sidecars), 'restart-all' when it restarts every
 * container (it kills the sidecars itself, at once: nothing to send), else undefined.
 */
export function ownRestart(pod: Pod, own: string, code: number): { kind: 'keep' | 'restart-all'; by: string } | undefined {
  const d = restartAfter(pod, own, code);
  if (d.action === 'none') return undefined;
  return { kind: d.action === 'restart-all' ? 'restart-all' : 'keep', by: d.by };
}

/** How to make a sidecar end with 0 once proa stops it. */
function zeroExitFix(pod: Pod, own: string, name: string): string {
  const known = recognise(pod, own).find((k) => k.container === name);
  const ways: string[] = [];
  if (known?.url) ways.push(`stop it through its HTTP endpoint (--shutdown-http-post ${known.url}, enabled by ${known.enable})`);
  else ways.push('stop it through an HTTP quit endpoint (--shutdown-http-get/--shutdown-http-post)');
  if (known?.zeroOnSigterm) ways.push(`start it with ${known.zeroOnSigterm.flag}`);
  else ways.push('give it a flag that makes it exit 0 on SIGTERM');
  ways.push('or use --kill-signal with a signal it handles');
  return ways.join(', ');
}

/**
 * A sidecar proa stopped has exited with `code` (undefined: not known). `commandCode`:
 * the program's exit code, undefined when it never ran. Nothing to say for a 0 that
 * stays down.
 */
export function sidecarExit(pod: Pod, own: string, name: string, code: number | undefined, reason: string | undefined, commandCode: number | undefined): Said | undefined {
  if (code === undefined) return undefined;
  const d = restartAfter(pod, name, code);
  const fields = { container: name, exitCode: code, reason, restartBy: d.by };
  if (d.action === 'restart') {
    return { level: 'warn', fields, message: `sidecar ${name} exited with code ${code}${reason ? ` (${reason})` : ''} and ${d.by} starts it again: ` +
      `the Job will not complete. ${code === 0 ? 'Give it restartPolicy: Never, or leave its restartPolicy unset to follow the Pod\'s' : `Make it exit 0: ${zeroExitFix(pod, own, name)}`}` };
  }
  if (d.action === 'restart-all') {
    return { level: 'warn', fields, message: `sidecar ${name} exited with code ${code}${reason ? ` (${reason})` : ''} and ${d.by} restarts every container of the Pod, ` +
      'your program included: the Job will not complete. Drop that rule, or make the sidecar exit with a code it does not match' };
  }
  if (code === 0) return undefined;
  const succeeded = commandCode === 0;
  return {
    level: succeeded ? 'warn' : 'info', fields,
    message: `sidecar ${name} exited with code ${code}${reason ? ` (${reason})` : ''} after proa stopped it, and will not be restarted: ` +
      (succeeded ? 'a Pod succeeds only when every container exits 0, so this Pod will be Failed although the program succeeded. '
        : `the Pod fails anyway (the program ${commandCode === undefined ? 'never ran' : `exited ${commandCode}`}). `) +
      `To have it exit 0: ${zeroExitFix(pod, own, name)}`,
  };
}

/**
 * Before the run (`proa check`): recognised sidecars that proa would stop by SIGTERM
 * (--kill, --kill-all) and that are not started with their own exit-0 switch: each will
 * exit 143, which fails the Pod although the program succeeds.
 */
export function signalledExits(pod: Pod, p: Plan, bySignal: 'SIGTERM' | 'other' | undefined): string[] {
  if (bySignal !== 'SIGTERM') return [];
  const awaited = new Set(exitAwaited(p));
  return recognise(pod, p.own).filter((k) => awaited.has(k.container) && k.zeroOnSigterm && !k.zeroOnSigterm.set).map((k) =>
    `sidecar ${k.container} (${k.name}) is stopped by --kill's SIGTERM and not started with ${k.zeroOnSigterm!.flag}: it will exit 143, ` +
    `and a Pod with a container that exited non-zero is Failed although the program succeeded. Add ${k.zeroOnSigterm!.flag} to its args` +
    (k.url ? `, or stop it through its HTTP endpoint (--shutdown-http-post ${k.url}, enabled by ${k.enable})` : ''));
}
