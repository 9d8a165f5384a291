// Shutdown by signal, through a shared process namespace: --kill NAME looks again on the
// retry schedule (shared/attempts.ts), so a process that appears later (a sidecar still
// starting, or restarted by the kubelet) is signalled too, each PID at most once;
// --kill-all is one sweep, never repeated: a later `kubectl exec` shell must not be killed.
//
// Rules:
// - NAME matches the base name of /proc/PID/exe or of the process's argv[0]. `comm` is
//   never used: the kernel cuts it to 15 characters and any process may set it.
// - Never signalled: PID 1 (the pause process or the Pod's init: killing it kills the
//   Pod), proa, its child, and every ancestor of proa (sh -c, tini or dumb-init in
//   front of it), whose death would take the command's exit code with it.
// - --kill and --kill-all only where the PID namespace is the Pod's own: never in the
//   host's (the initial PID namespace, or one where kernel threads are visible), where a
//   name matches other Pods' processes too (hostPID: true).
// - A PID can be reused between the scan and the signal: the process's start time is
//   read again just before signalling and a changed one is spared. That narrows the
//   window without closing it (Node has no pidfd_send_signal).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { KillSignal } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { delay, pause, type Attempts, type Outcome } from '../shared/attempts.ts';

export interface Process {
  pid: number;
  /** The base names it answers to: of its executable, and of its argv[0]. */
  names: string[];
  /** /proc/PID/stat's starttime: the same PID with another start time is another process. */
  start: string;
}

/** What to change where signalling by name would reach beyond the Pod (hostPID: true). */
export const hostPidFix = "drop hostPID: true (shareProcessNamespace: true shares the Pod's own processes), or stop the sidecar through its HTTP endpoint";

/** /proc/PID/stat's fields after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number | 'self', proc: string): string[] | undefined {
  try {
    const text = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

// Indices into statFields (proc(5) numbers them from 1, pid and comm first).
const ppidField = 1;
const flagsField = 6;
const startField = 19;
const kernelThreadFlag = 0x00200000;

/**
 * The processes visible in /proc. Kernel threads and zombies, which have no command
 * line, are left out.
 */
export function listProcesses(proc = '/proc'): Process[] {
  const found: Process[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const p = processAt(Number(entry), proc);
    if (p) found.push(p);
  }
  return found;
}

/** undefined for a kernel thread, a zombie, or a process that exited while we looked. */
function processAt(pid: number, proc: string): Process | undefined {
  try {
    const argv0 = readFileSync(`${proc}/${pid}/cmdline`, 'latin1').split('\0')[0] ?? '';
    const start = statFields(pid, proc)?.[startField];
    if (argv0 === '' || start === undefined) return undefined;
    const names = [basename(argv0)];
    try {
      names.unshift(basename(readlinkSync(`${proc}/${pid}/exe`)).replace(/ \(deleted\)$/, ''));
    } catch {
      // Another user's process without CAP_SYS_PTRACE: argv[0] alone.
    }
    return { pid, names: [...new Set(names)], start };
  } catch {
    return undefined;
  }
}

/**
 * Why signalling every process here would reach beyond the Pod, or undefined: the
 * initial PID namespace (the host's, hostPID: true), or kernel threads in sight, which
 * only a host's PID namespace shows. Judged by the kernel's own marks, not by names.
 */
export function hostPidNamespace(proc = '/proc'): string | undefined {
  try {
    if (readlinkSync(`${proc}/self/ns/pid`) === 'pid:[4026531836]') return "proa runs in the host's initial PID namespace";
  } catch {
    // No namespace link (an old kernel, a restricted /proc): the kernel threads decide.
  }
  try {
    for (const entry of readdirSync(proc)) {
      if (!/^\d+$/.test(entry)) continue;
      const flags = Number(statFields(Number(entry), proc)?.[flagsField] ?? 0);
      if (flags & kernelThreadFlag) return `kernel threads are visible (pid ${entry}), as only in the host's PID namespace`;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** proa's parent, its parent's parent, and so on up to the namespace's top. */
export function ancestors(proc = '/proc', from: number | 'self' = 'self'): number[] {
  const chain: number[] = [];
  let pid: number | 'self' = from;
  for (let i = 0; i < 4096; i++) {
    const ppid = Number(statFields(pid, proc)?.[ppidField] ?? 0);
    if (!(ppid > 0) || chain.includes(ppid)) break;
    chain.push(ppid);
    pid = ppid;
  }
  return chain;
}

/** PID 1, proa, its child, and proa's ancestors, which no kill action signals. */
function spared(childPid: number | undefined): Set<number> {
  return new Set([1, process.pid, ...ancestors(), ...(childPid === undefined ? [] : [childPid])]);
}

function killTargets(processes: Process[], names: readonly string[] | 'all', spare: Set<number>): Process[] {
  return processes.filter((p) => !spare.has(p.pid) && (names === 'all' || p.names.some((n) => names.includes(n))));
}

/** The name a target is logged by: the one asked for, else its executable's. */
const shown = (p: Process, names: readonly string[] | 'all'): string => (names === 'all' ? undefined : p.names.find((n) => names.includes(n))) ?? p.names[0]!;

/**
 * Signals `p` if it is still the process that was scanned (same start time). True when
 * the signal was sent.
 */
export function signalIfSame(p: Process, name: string, sig: KillSignal, log: Logger, proc = '/proc',
  send: (pid: number, signal: number) => void = (pid, signal) => process.kill(pid, signal), denied?: Map<string, string>): boolean {
  if (statFields(p.pid, proc)?.[startField] !== p.start) {
    log.debug('not signalling: the process exited, or its PID now belongs to another', { pid: p.pid, name });
    return false;
  }
  try {
    send(p.pid, sig.number);
    log.info('sent signal', { signal: sig.name, pid: p.pid, name });
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') {
      const why = notPermitted(p.pid, proc);
      denied?.set(name, why);
      log.warn(`not permitted to signal ${name} (pid ${p.pid}): ${why}`, { signal: sig.name, pid: p.pid, name, error: code });
    } else {
      log.warn('could not signal process', { signal: sig.name, pid: p.pid, name, error: code });
    }
    return false;
  }
}

/** A process's real user, from /proc/PID/status. */
export function uidOf(pid: number | 'self', proc: string): string | undefined {
  try {
    return readFileSync(`${proc}/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1];
  } catch {
    return undefined;
  }
}

/** Why the kernel refused a signal (EPERM), and what to change. */
export function notPermitted(pid: number, proc = '/proc'): string {
  const theirs = uidOf(pid, proc);
  const mine = uidOf('self', proc);
  return `it runs as uid ${theirs ?? '(unknown)'} and proa as uid ${mine ?? '(unknown)'}, without CAP_KILL; ` +
    `run proa's container as the same user (securityContext.runAsUser${theirs ? `: ${theirs}` : ''}), or add CAP_KILL (securityContext.capabilities.add: [KILL])`;
}

function visible(log: Logger): Process[] {
  try {
    return listProcesses();
  } catch (err) {
    log.warn('cannot list processes in /proc to signal them', { error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return [];
  }
}

/** --kill-all: one sweep of every visible process but the spared ones. */
export function killAll(sig: KillSignal, childPid: number | undefined, log: Logger): Outcome {
  const host = hostPidNamespace();
  if (host) {
    log.error(`--kill-all refused: ${host}, so every process on the node would be signalled; ${hostPidFix}`);
    return { action: '--kill-all', done: false, error: 'refused in the host PID namespace' };
  }
  const targets = killTargets(visible(log), 'all', spared(childPid));
  for (const p of targets) signalIfSame(p, shown(p, 'all'), sig, log);
  if (targets.length === 0) log.warn('--kill-all found no other process to signal (it needs shareProcessNamespace: true in the Pod spec)');
  return { action: '--kill-all', done: targets.length > 0, ...(targets.length === 0 ? { error: 'no other process visible' } : {}) };
}

/**
 * --kill NAME...: signals every process by those names, then looks again until `a`
 * says stop. `untilSignalled`: stop once every name has been signalled at least once
 * (nothing to watch for their exit); otherwise keep looking for restarted ones.
 */
export async function killByName(names: readonly string[], sig: KillSignal, childPid: number | undefined, a: Attempts, untilSignalled: boolean, log: Logger): Promise<Outcome[]> {
  const host = hostPidNamespace();
  if (host) {
    log.error(`--kill refused: ${host}, so processes by those names all over the node, other Pods' too, would be signalled; ${hostPidFix}`, { names });
    return names.map((name) => ({ action: `--kill ${name}`, done: false, error: 'refused in the host PID namespace' }));
  }
  const spare = spared(childPid);
  const signalled = new Set<string>();
  const hit = new Set<string>();
  const reported = new Set<string>();
  /** Names seen but not permitted to be signalled (EPERM), with why. */
  const denied = new Map<string, string>();
  for (let n = 0; ; n++) {
    for (const p of killTargets(visible(log), names, spare)) {
      const key = `${p.pid}/${p.start}`;
      if (signalled.has(key)) continue;
      signalled.add(key);
      const name = shown(p, names);
      if (signalIfSame(p, name, sig, log, '/proc', undefined, denied)) hit.add(name);
    }
    const missing = names.filter((name) => !hit.has(name) && !denied.has(name));
    for (const name of missing) {
      if (reported.has(name)) continue;
      reported.add(name);
      log.warn(a.retry ? 'no visible process by that name yet; looking again (--kill needs shareProcessNamespace: true in the Pod spec)'
        : 'no visible process by that name (--kill needs shareProcessNamespace: true in the Pod spec)', { name });
    }
    // Refused by the kernel: looking again changes nothing until the Pod's spec does.
    if (names.every((name) => hit.has(name) || denied.has(name)) && (untilSignalled || names.every((name) => denied.has(name)))) break;
    if (!a.retry || !(await pause(delay(n), a))) break;
  }
  return names.map((name) => ({
    action: `--kill ${name}`, done: hit.has(name),
    ...(hit.has(name) ? {} : { error: denied.has(name) ? `not permitted (EPERM): ${denied.get(name)}` : 'no such process seen' }),
  }));
}
