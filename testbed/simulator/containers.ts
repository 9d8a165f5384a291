// How the simulated kubelet starts a container's process, with what a container runtime
// gives it: its own UTS namespace (the Pod's hostname) and mount namespace, where the
// kubelet's termination-log file is bound in so that /proc/self/mountinfo names the
// container as in a cluster; its own PID namespace when asked (PID 1, as in a real
// container); the Pod's network namespace when the Pod has one; or, with
// shareProcessNamespace, the Pod's one PID namespace, held by sandbox-agent.mjs
// as the pause container holds it. Namespaces this machine cannot make (not root) are
// left out, and the process runs as a plain child.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Json } from '../api/fake-apiserver.ts';
import type { PodNetwork } from './pod-network.ts';
import { node, root, tempDir } from '../paths.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running container process, however it was started. */
export interface Proc {
  pid: number | undefined;
  /** Resolves once `pid` is known (at once, but in a shared PID namespace). */
  started: Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<Exit>;
  /** The file the kubelet reads the termination message from when the container ends ('' without mount namespaces). */
  terminationLog: string;
}

export interface PodProcesses {
  pod: string;
  uid: string;
  net: PodNetwork | undefined;
  /** Containers to run as PID 1 of a PID namespace of their own. */
  ownPidNamespace: string[];
  /** Each line a container writes. */
  output: (container: string, stream: 'stdout' | 'stderr', line: string) => void;
}

// Asked of the machine once per process, not once per Pod.
const can = new Map<string, boolean>();
const canUnshare = (flag: string): boolean => {
  if (!can.has(flag)) can.set(flag, spawnSync('unshare', [flag, 'true'], { stdio: 'ignore' }).status === 0);
  return can.get(flag)!;
};

// In its mount namespace, the termination log is bound over a file every container has
// (/etc/hostname; the host's stays as it is).
const bindTerminationLog = 'if [ -n "$1" ]; then mount --bind "$1" /etc/hostname 2>/dev/null; fi; shift';

interface Sandbox {
  proc: ChildProcess;
  send: (m: Json) => void;
  handlers: Map<string, (m: Json) => void>;
}

/**
 * A container's output as lines, as `kubectl logs` shows it: a line written in pieces
 * (`python -u`, a write per field) is one line. The text after a chunk's last newline
 * waits for the rest of its line until the stream ends, or until anything else happens in
 * the Pod (flush, which the simulator calls before it records any other event), so the
 * output stays in the order it was written: a program that ends without a newline
 * (curl's answer) shows its text before its own exit.
 */
class Lines {
  readonly #partial = new Map<string, { name: string; stream: 'stdout' | 'stderr'; text: string }>();
  readonly #out: PodProcesses['output'];

  constructor(out: PodProcesses['output']) {
    this.#out = out;
  }

  push(name: string, stream: 'stdout' | 'stderr', chunk: string): void {
    const key = `${name}\0${stream}`;
    const parts = ((this.#partial.get(key)?.text ?? '') + chunk).split('\n');
    const last = parts.pop()!;
    this.#partial.delete(key);
    for (const p of parts) this.#out(name, stream, p);
    if (last !== '') this.#partial.set(key, { name, stream, text: last });
  }

  /** Every line still waiting for its end, as it is. */
  flush(): void {
    const waiting = [...this.#partial.values()];
    this.#partial.clear();
    for (const w of waiting) this.#out(w.name, w.stream, w.text);
  }
}

export class ContainerProcesses {
  readonly #pod: PodProcesses;
  readonly #lines: Lines;
  readonly #uts = canUnshare('--uts');
  readonly #mounts = canUnshare('--mount');
  #dir: string | undefined;
  #sandbox: Sandbox | undefined;
  #started = 0;

  constructor(pod: PodProcesses) {
    this.#pod = pod;
    this.#lines = new Lines((name, stream, line) => pod.output(name, stream, line));
  }

  /** Output lines still waiting for their end, recorded now (before another event of the Pod). */
  flush(): void {
    this.#lines.flush();
  }

  /** shareProcessNamespace: one PID namespace for the Pod, from now on. Its holder's PID. */
  async shareProcessNamespace(): Promise<number | undefined> {
    const uts = this.#uts ? ['--uts'] : [];
    const [command, ...args] = [...(this.#pod.net?.enter() ?? []), 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...uts, '--',
      'sh', '-c', 'hostname "$0" 2>/dev/null; exec "$@"', this.#pod.pod, node, join(root, 'testbed', 'simulator', 'sandbox-agent.mjs')];
    const proc = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '' } });
    const handlers = new Map<string, (m: Json) => void>();
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Json;
      handlers.get(msg.id)?.(msg);
    });
    this.#sandbox = { proc, handlers, send: (m) => proc.stdin!.write(JSON.stringify(m) + '\n') };
    return proc.pid;
  }

  /**
   * Starts a container's process; `id` is its container ID (hex). `user`: the process
   * runs as that user and group, its capabilities gone (setpriv, after the set-up that
   * needs root), as a container with runAsUser does.
   */
  start(name: string, argv: string[], env: Record<string, string>, cwd: string, id: string, user?: { uid: number; gid: number }): Proc {
    const terminationLog = this.#terminationLog(name, id);
    if (user) argv = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', ...argv];
    if (this.#sandbox) {
      const inner = this.#mounts ? ['unshare', '--mount', '--', 'sh', '-c', `${bindTerminationLog}; exec "$@"`, 'container', terminationLog, ...argv] : argv;
      return this.#startInSandbox(this.#sandbox, name, inner, env, cwd, terminationLog);
    }
    let command = argv[0]!;
    let args = argv.slice(1);
    const setUp = ['sh', '-c', `hostname "$0" 2>/dev/null; ${bindTerminationLog}; exec "$@"`, this.#pod.pod, terminationLog];
    const namespaces = [...(this.#uts ? ['--uts'] : []), ...(this.#mounts ? ['--mount'] : [])];
    if (this.#pod.ownPidNamespace.includes(name)) {
      command = 'unshare';
      args = ['--pid', '--fork', '--mount-proc', '--kill-child', ...namespaces, '--', ...setUp, ...argv];
    } else if (namespaces.length > 0) {
      // Without --fork unshare execs in place: the container keeps its PID, its signals and its exit status.
      command = 'unshare';
      args = [...namespaces, '--', ...setUp, ...argv];
    }
    if (this.#pod.net) [command, ...args] = [...this.#pod.net.enter(), command, ...args];
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]!.setEncoding('utf8');
      child[stream]!.on('data', (chunk: string) => this.#lines.push(name, stream, chunk));
      child[stream]!.on('end', () => this.#lines.flush());
    }
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', () => resolve({ code: 127, signal: null }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    return {
      pid: child.pid,
      started: Promise.resolve(),
      kill: (signal) => {
        try {
          child.kill(signal);
        } catch { /* exited */ }
      },
      exited,
      terminationLog,
    };
  }

  stop(): void {
    this.#sandbox?.proc.kill('SIGKILL');
  }

  /**
   * The file the kubelet mounts at the container's terminationMessagePath, under
   * `pods/<uid>/containers/<name>/<id>`: the path proa reads its own container's name from
   * in /proc/self/mountinfo. Empty where this machine cannot give containers mount namespaces.
   */
  #terminationLog(name: string, id: string): string {
    if (!this.#mounts) return '';
    const dir = join(this.#dir ??= tempDir('proa-sim-kubelet-'), 'pods', this.#pod.uid, 'containers', name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, id.slice(0, 8));
    writeFileSync(file, '');
    return file;
  }

  #startInSandbox(sb: Sandbox, name: string, argv: string[], env: Record<string, string>, cwd: string, terminationLog: string): Proc {
    const id = `${name}#${++this.#started}`;
    let resolveExit!: (e: Exit) => void;
    const exited = new Promise<Exit>((resolve) => (resolveExit = resolve));
    let resolveStarted!: () => void;
    const started = new Promise<void>((resolve) => (resolveStarted = resolve));
    void exited.then(resolveStarted);
    const proc: Proc = { pid: undefined, started, kill: (signal) => sb.send({ op: 'kill', id, signal }), exited, terminationLog };
    sb.handlers.set(id, (msg) => {
      if (msg.event === 'started') {
        proc.pid = msg.pid;
        resolveStarted();
      }
      else if (msg.event === 'output') {
        this.#lines.push(name, msg.stream, Buffer.from(msg.data, 'base64').toString());
      } else if (msg.event === 'exit') {
        sb.handlers.delete(id);
        resolveExit({ code: msg.code, signal: msg.signal });
      }
    });
    sb.send({ op: 'spawn', id, argv, env, cwd });
    return proc;
  }
}
