// Shutdown by signal, through a shared process namespace: --kill NAME looks again on the
// retry schedule (attempts.ts), so a process that appears later (a sidecar still
// starting, or restarted by the kubelet) is signalled too, each PID at most once;
// --kill-all is one sweep, never repeated: a later `kubectl exec` shell must not be killed.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { KillSignal } from './cli.ts';
import type { Logger } from './log.ts';
import { delay, pause, type Attempts, type Outcome } from './attempts.ts';

export interface Process {
  pid: number;
  name: string;
}

/**
 * The processes visible in /proc, named by the base name of /proc/PID/exe, or by
 * `comm` (cut to 15 characters by the kernel) where that link cannot be read.
 * Kernel threads and zombies, which have no command line, are left out.
 */
export function listProcesses(proc = '/proc'): Process[] {
  const found: Process[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const name = processName(Number(entry), proc);
    if (name !== undefined) found.push({ pid: Number(entry), name });
  }
  return found;
}

/** undefined for a kernel thread, a zombie, or a process that exited while we looked. */
function processName(pid: number, proc: string): string | undefined {
  try {
    if (readFileSync(`${proc}/${pid}/cmdline`).length === 0) return undefined;
    try {
      return basename(readlinkSync(`${proc}/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    } catch {
      return readFileSync(`${proc}/${pid}/comm`, 'utf8').trim();
    }
  } catch {
    return undefined;
  }
}

/** PID 1's name: `systemd` or `init` there means the host's PID namespace. */
export function pidOneName(proc = '/proc'): string | undefined {
  return processName(1, proc);
}

/** proa and its child, which no kill action signals. */
function spared(childPid: number | undefined): Set<number> {
  return new Set([process.pid, ...(childPid === undefined ? [] : [childPid])]);
}

/** Never PID 1 (the Pod's pause process: killing it kills the Pod), proa, or its child. */
function killTargets(processes: Process[], names: readonly string[] | 'all', spare: Set<number>): Process[] {
  return processes.filter((p) => p.pid !== 1 && !spare.has(p.pid) && (names === 'all' || names.includes(p.name)));
}

function signal(p: Process, sig: KillSignal, log: Logger): boolean {
  try {
    process.kill(p.pid, sig.number);
    log.info('sent signal', { signal: sig.name, pid: p.pid, name: p.name });
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    log.warn(code === 'EPERM'
      ? `not permitted to signal ${p.name} (pid ${p.pid}): it runs as another user (Istio's proxy runs as uid 1337); ` +
        "proa's container needs the same runAsUser, or CAP_KILL (securityContext.capabilities.add: [KILL])"
      : 'could not signal process', { signal: sig.name, pid: p.pid, name: p.name, error: code });
    return false;
  }
}

function visible(log: Logger): Process[] {
  try {
    return listProcesses();
  } catch (err) {
    log.warn('cannot list processes in /proc to signal them', { error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return [];
  }
}

/** --kill-all: one sweep of every visible process but PID 1, proa and its child. */
export function killAll(sig: KillSignal, childPid: number | undefined, log: Logger): Outcome {
  const spare = spared(childPid);
  const targets = killTargets(visible(log), 'all', spare);
  for (const p of targets) signal(p, sig, log);
  if (targets.length === 0) log.warn('--kill-all found no other process to signal (it needs shareProcessNamespace: true in the Pod spec)');
  return { action: '--kill-all', done: targets.length > 0, ...(targets.length === 0 ? { error: 'no other process visible' } : {}) };
}

/**
 * --kill NAME...: signals every process by those names, then looks again until `a`
 * says stop. `untilSignalled`: stop once every name has been signalled at least once
 * (nothing to watch for their exit); otherwise keep looking for restarted ones.
 */
export async function killByName(names: readonly string[], sig: KillSignal, childPid: number | undefined, a: Attempts, untilSignalled: boolean, log: Logger): Promise<Outcome[]> {
  const spare = spared(childPid);
  const signalled = new Set<number>();
  const hit = new Set<string>();
  const reported = new Set<string>();
  for (let n = 0; ; n++) {
    for (const p of killTargets(visible(log), names, spare)) {
      if (signalled.has(p.pid)) continue;
      signalled.add(p.pid);
      if (signal(p, sig, log)) hit.add(p.name);
    }
    const missing = names.filter((name) => !hit.has(name));
    for (const name of missing) {
      if (reported.has(name)) continue;
      reported.add(name);
      log.warn(a.retry ? 'no visible process by that name yet; looking again (--kill needs shareProcessNamespace: true in the Pod spec)'
        : 'no visible process by that name (--kill needs shareProcessNamespace: true in the Pod spec)', { name });
    }
    if (untilSignalled && missing.length === 0) break;
    if (!a.retry || !(await pause(delay(n), a))) break;
  }
  return names.map((name) => ({ action: `--kill ${name}`, done: hit.has(name), ...(hit.has(name) ? {} : { error: 'no such process seen' }) }));
}
