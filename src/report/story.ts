// report/: what proa tells of the Job beyond its log: the story (this module), left as
// the termination message at exit (termination.ts) and as the Pod's Events (kube/recorder.ts).
//
// The Job's story as proa tells it, for the places a user looks before the log: the
// termination message (`kubectl describe pod` under proa's container's state) and the
// Pod's Events. It is read off proa's own log, as each line is written: the log stays
// the one narrative, and neither summary can say what the log does not.
//
// The steps, each from the line that marks it:
//   waiting      'waiting for the sidecars to be ready' (names from 'found the Pod')
//   ready        'all sidecars are ready' (by whom), or a readiness timeout, or a failed sidecar
//   command      'command exited' (its code or signal)
//   shutdown     each action's outcome ('shutdown request answered' / '... failed', 'sent signal'),
//                told once they all have one (or the sidecars' end comes first)
//   stopped      'N/N sidecars exited', or a survivor ('... is still running after ...')
// and the first error, whatever it was.
import { redact } from '../shared/urls.ts';
import { cutUtf8 } from '../shared/limits.ts';
import type { Fields, Logger } from '../shared/log.ts';

export type Step =
  | { kind: 'waiting'; sidecars: string[] }
  | { kind: 'ready'; afterMs: number; by: Record<string, string> }
  | { kind: 'not-ready'; why: string }
  | { kind: 'reminder'; waitedS: number }
  | { kind: 'shutdown'; actions: string[] }
  | { kind: 'stopped'; afterMs: number }
  | { kind: 'survivor'; line: string }
  | { kind: 'warning'; reason: string; line: string };

/** An Event as the recorder posts it (kube/recorder.ts). */
export interface StoryEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
  /** Later steps with the same key count up this Event instead of posting another. */
  series?: string;
}

/** The sidecars called ready by proa's own probe ahead of the kubelet. */
const probedBy = (by: Record<string, string>): string[] => Object.entries(by).filter(([, who]) => who !== 'kubelet').map(([name]) => name);

/** The Event that tells a step, in the kubelet's own style of names. */
export function eventOf(s: Step): StoryEvent {
  switch (s.kind) {
    case 'waiting':
    case 'reminder':
      // One series: an Event's note cannot change once posted, so the reminders count it up.
      return { type: 'Normal', reason: 'WaitingForSidecars', action: 'Wait', note: 'waiting for sidecars to be ready' +
        (s.kind === 'waiting' ? `: ${s.sidecars.join(', ')}` : ''), series: 'waiting' };
    case 'ready': {
      const probed = probedBy(s.by);
      return { type: 'Normal', reason: 'SidecarsReady', action: 'Wait', note: `sidecars ready after ${(s.afterMs / 1000).toFixed(1)}s` +
        (probed.length ? ` (by proa's own probe: ${probed.join(', ')})` : ' (by the kubelet)') + '; starting the program' };
    }
    case 'not-ready':
      return { type: 'Warning', reason: /^sidecars not ready after/.test(s.why) ? 'SidecarsNotReady' : 'SidecarFailed', action: 'Wait', note: s.why };
    case 'shutdown':
      return { type: 'Normal', reason: 'ShutdownSent', action: 'Shutdown', note: s.actions.length ? s.actions.join('; ') : 'no shutdown action configured' };
    case 'stopped':
      return { type: 'Normal', reason: 'SidecarsStopped', action: 'Shutdown', note: `every sidecar stopped after ${(s.afterMs / 1000).toFixed(1)}s` };
    case 'survivor':
      return { type: 'Warning', reason: 'SidecarStillRunning', action: 'Shutdown', note: s.line };
    case 'warning':
      return { type: 'Warning', reason: s.reason, action: 'Check', note: s.line };
  }
}

/** The largest termination message the kubelet keeps (4096 bytes); proa's is cut to fit. */
const maxTerminationMessageBytes = 4096;

export class Story {
  readonly #started = performance.now();
  #waitingSince: number | undefined;
  #shutdownSince: number | undefined;
  #sidecars: string[] = [];
  #ready: { afterMs: number; by: Record<string, string> } | undefined;
  #notReady: string | undefined;
  #command: string | undefined;
  readonly #actions = new Map<string, string>();
  #stoppedMs: number | undefined;
  readonly #survivors: string[] = [];
  #firstError: string | undefined;
  #toldShutdown = false;
  readonly #listeners: ((s: Step) => void)[] = [];

  /** Hears each step as it happens (the Event recorder). */
  onStep(listener: (s: Step) => void): void {
    this.#listeners.push(listener);
  }

  /** A logger that writes through `log` and tells this story what it wrote. */
  tap(log: Logger): Logger {
    const seen = (level: 'error' | 'warn' | 'info' | 'debug') => (msg: string, fields?: Fields): void => {
      log[level](msg, fields);
      try {
        this.#hear(level, msg, fields ?? {});
      } catch {
        // The story is a summary: a fault in it never costs the log or the lifecycle.
      }
    };
    return { error: seen('error'), warn: seen('warn'), info: seen('info'), debug: seen('debug') };
  }

  #emit(s: Step): void {
    for (const l of this.#listeners) {
      try {
        l(s);
      } catch {
        // Same as above: never in the way.
      }
    }
  }

  #hear(level: string, msg: string, f: Fields): void {
    if (level === 'error' && this.#firstError === undefined) this.#firstError = msg;
    if (msg === 'found the Pod' && Array.isArray(f.sidecars)) {
      this.#sidecars = f.sidecars.map(String);
      if (this.#sidecars.length > 0) this.#emit({ kind: 'waiting', sidecars: this.#sidecars });
    } else if (msg === 'waiting for the sidecars to be ready') {
      this.#waitingSince = performance.now();
    } else if (msg === 'all sidecars are ready' || msg === 'no sidecars to wait for') {
      const by = (typeof f.by === 'object' && f.by !== null ? f.by : {}) as Record<string, string>;
      this.#ready = { afterMs: Math.round(performance.now() - (this.#waitingSince ?? this.#started)), by };
      this.#emit({ kind: 'ready', ...this.#ready });
    } else if (msg.startsWith('still waiting for the sidecars after ')) {
      this.#emit({ kind: 'reminder', waitedS: Number(f.waitedS) || 0 });
    } else if (level === 'error' && (/^sidecars not ready after /.test(msg) || /^sidecar \S+ terminated and will not be restarted/.test(msg))) {
      this.#notReady ??= msg;
      this.#emit({ kind: 'not-ready', why: msg });
    } else if (msg === 'command exited') {
      this.#command = f.signal ? `killed by ${String(f.signal)} (exit ${String(f.code)})` : `exit code ${String(f.exitCode)}`;
    } else if (msg === 'waiting for the sidecars to exit') {
      this.#shutdownSince = performance.now();
    } else if (msg === 'shutdown request answered' || msg.startsWith('shutdown request refused') || msg === 'shutdown request failed' || msg === 'shutdown request failed; retrying') {
      const action = `${String(f.method)} ${String(f.url)}`;
      this.#actions.set(action, msg === 'shutdown request answered' ? `answered ${String(f.status)}` : `failed (${String(f.status ?? f.error)})`);
    } else if (msg === 'every shutdown action has its outcome') {
      this.#shutdownTold();
    } else if (msg === 'sent signal') {
      this.#actions.set(`${String(f.signal)} to ${String(f.name)}`, `sent to pid ${String(f.pid)}`);
    } else if (/^(\d+)\/\1 sidecars exited$/.test(msg)) {
      this.#stoppedMs = Math.round(performance.now() - (this.#shutdownSince ?? this.#started));
      this.#shutdownTold();
      this.#emit({ kind: 'stopped', afterMs: this.#stoppedMs });
    } else if (level === 'error' && / is still running after \d+ms/.test(msg)) {
      this.#survivors.push(msg.replace(/ is still running after .*/, ''));
      this.#shutdownTold();
      this.#emit({ kind: 'survivor', line: msg });
    } else if (level === 'warn' && /^sidecar \S+: .* restarts it after exit code/.test(msg)) {
      this.#emit({ kind: 'warning', reason: 'SidecarRestartTrap', line: msg });
    } else if (level === 'warn' && /^sidecar \S+ exited with code \d+ .*will be Failed/.test(msg)) {
      this.#emit({ kind: 'warning', reason: 'SidecarExitFailsPod', line: msg });
    } else if (level === 'error' && msg.startsWith('shutdown request refused')) {
      this.#emit({ kind: 'warning', reason: 'ShutdownRefused', line: msg });
    }
  }

  /** The actions and their answers so far, told once, as the shutdown's end is known. */
  #shutdownTold(): void {
    if (this.#toldShutdown) return;
    this.#toldShutdown = true;
    this.#emit({ kind: 'shutdown', actions: [...this.#actions].map(([a, o]) => `${a} ${o}`) });
  }

  /** The sidecars proa waits for, once the Pod is known: the first step. */
  get sidecars(): readonly string[] {
    return this.#sidecars;
  }

  /** The termination message: a few lines, redacted, cut to the kubelet's 4096 bytes. */
  summary(code: number): string {
    const lines = [`proa exited ${code}${this.#command ? `; the program: ${this.#command}` : '; the program never ran'}`];
    if (this.#ready) {
      const probed = probedBy(this.#ready.by);
      lines.push(`sidecars ready after ${(this.#ready.afterMs / 1000).toFixed(1)}s` + (this.#sidecars.length ? ` (${this.#sidecars.join(', ')})` : '') +
        (probed.length ? `; by proa's probe: ${probed.join(', ')}` : ''));
    } else if (this.#notReady) lines.push(this.#notReady);
    if (this.#actions.size > 0) lines.push(`shutdown: ${[...this.#actions].map(([a, o]) => `${a} ${o}`).join('; ')}`);
    if (this.#stoppedMs !== undefined) lines.push(`sidecars stopped after ${(this.#stoppedMs / 1000).toFixed(1)}s`);
    for (const s of this.#survivors) lines.push(`not stopped: ${s}`);
    if (this.#firstError && this.#firstError !== this.#notReady) lines.push(`first error: ${this.#firstError}`);
    return cutUtf8(redact(lines.join('\n')) + '\n', maxTerminationMessageBytes, '...\n');
  }
}
