// The Pod simulator: the fake API server plus a small kubelet that runs a Pod's
// containers as real local processes, probes them, restarts them by the restart
// policy, and publishes their status the way the kubelet does. Test and development
// tool; not shipped in the binary.
//
// Kubelet behaviour it follows (shared/reference/kubernetes-api.md):
// - init containers run to completion, in order, before the regular containers; an
//   init container with restartPolicy Always is a native sidecar: started in order,
//   the next one waits for its startup probe, it restarts always, and it is stopped
//   after the regular containers have ended, in reverse order.
// - a container without a readiness probe is ready once running (and started, with a
//   startup probe); readiness and startup probes follow initialDelaySeconds,
//   periodSeconds, timeoutSeconds, successThreshold and failureThreshold.
// - restarts by each container's own restartPolicy and restartPolicyRules, else the Pod's
//   (restart-rules.ts); a RestartAllContainers rule kills every container at once (no
//   grace), removes them (each waiting RestartingAllContainers, the condition
//   AllContainersRestarting True) and runs the Pod again from its init containers.
// - restarts: the first at once (terminated until then), the next with the kubelet's
//   back-off: 10 s doubling to 5 min (a test may ask for a faster one, `backoffBaseMs`,
//   doubling to 30 times it; the timeline says so).
// - a volume naming a ConfigMap that does not exist (and is not optional) keeps every
//   container from starting: the Pod stays Pending, its containers ContainerCreating.
// - spec.activeDeadlineSeconds: once it passes, the kubelet stops every container and the
//   Pod fails (reason DeadlineExceeded); a Job's activeDeadlineSeconds has the Job
//   controller delete the Pod (graceful deletion), as the Job fails.
// - probe results are recorded when they change, not at every period.
// - exit codes: the process's, or 128 + N when it died of signal N (what containerd records).
// - deletion: deletionTimestamp first, TERM to every container, KILL after the grace
//   period, DELETED once every container has stopped.
// - every status change is a new resourceVersion (a MODIFIED event).
import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ContainerProcesses, type Exit, type Proc } from './containers.ts';
import type { FakeApiServer, Json } from '../api/fake-apiserver.ts';
import { podFromManifest } from './manifest.ts';
import { kubeletApi, type Backend, type KubeletApi } from './kubelet-api.ts';
import { forAnyUser, root, tempDir } from '../paths.ts';
import { firstMatch } from '../api/events.ts';
import { PodNetwork } from './pod-network.ts';
import { failureMessage, runProbe, type Probe } from './probes.ts';
import { materialise, mountedArgv } from './volumes.ts';
import { kubeletRestart } from './restart-rules.ts';

export interface TimelineEvent {
  /** Milliseconds since the simulator started, from one monotonic clock. */
  t: number;
  type: string;
  container?: string;
  [field: string]: unknown;
}

export interface SimOptions {
  /** Containers to run as PID 1 of a PID namespace of their own, as a real container is. */
  ownPidNamespace?: string[];
  backoffBaseMs?: number;
  /**
   * How long after a container's exit the kubelet notices it: the real one at its next
   * PLEG relist, up to ~1 s later. Default 0 (at once), which keeps the suites fast; a
   * test of what proa does before the kubelet's word sets it.
   */
  plegMs?: number;
  /** Print the timeline as it happens. */
  echo?: (e: TimelineEvent) => void;
  /** Also write the timeline to this file, one JSON object per line. */
  timelineFile?: string;
  cwd?: string;
  /** Extra environment for every container (tests point PATH at helpers). */
  env?: Record<string, string>;
  /** Which API server holds the Pod: the fake (default) or the real one. */
  api?: Backend;
  /**
   * How often the kubelet writes a fresh token into the mounted files (the real one does
   * at 80% of a token's hour). Default: every 5 s on the real API server, where old
   * tokens stay valid as they do in a cluster; never on the fake, whose rotation
   * invalidates the old token at once (a fault, for the tests that want it).
   */
  tokenRotationMs?: number;
  /**
   * The Pod's network: 'pod' gives it a network namespace of its own (root only), as in a
   * cluster, so that sidecars on fixed ports never meet another Pod's or the machine's;
   * 'host' (default) shares the machine's, where a test reaches the containers directly.
   */
  network?: 'host' | 'pod';
  /**
   * The container runtime's part: what a container runs, given its spec and its command
   * and args as written (empty when the image's entrypoint is meant). Default: as written.
   */
  runtime?: (container: Json, argv: string[]) => string[];
  /**
   * What the Pod's service account may do, on either API server: these Role and
   * RoleBinding documents, or nothing (false). Default: the manifest's, else the README's.
   */
  rbac?: false | Json[];
  /** The API server's mutating admission webhooks: they change the Pod before it is created and say what they injected. */
  admission?: (pod: Json) => string[];
}

export interface Outcome {
  phase: string;
  deleted: boolean;
  exitCodes: Record<string, number | undefined>;
  restarts: Record<string, number>;
}

type Kind = 'init' | 'native' | 'regular';


interface Ctr {
  spec: Json;
  /** The environment of the current run, for exec probes too. */
  env: Record<string, string>;
  kind: Kind;
  status: Json;
  proc?: Proc;
  started: boolean;
  ready: boolean;
  timers: NodeJS.Timeout[];
  /** Bumped on every start: stale probe results and timers check it. */
  generation: number;
  /** Resolves when a native sidecar has started (startup probe passed). */
  onStarted?: () => void;
  /** Resolves when an init container completed successfully. */
  onCompleted?: (ok: boolean) => void;
}

const supportedContainer = new Set(['name', 'image', 'imagePullPolicy', 'command', 'args', 'env', 'readinessProbe', 'startupProbe', 'securityContext',
  'ports', 'resources', 'terminationMessagePath', 'terminationMessagePolicy', 'restartPolicy', 'restartPolicyRules', 'workingDir', 'volumeMounts']);
const supportedPod = new Set(['containers', 'initContainers', 'restartPolicy', 'terminationGracePeriodSeconds', 'shareProcessNamespace',
  'serviceAccountName', 'serviceAccount', 'dnsPolicy', 'schedulerName', 'enableServiceLinks', 'priority', 'securityContext',
  'automountServiceAccountToken', 'volumes', 'activeDeadlineSeconds']);

/** What of a securityContext the simulator plays (a non-root user runs without capabilities). */
const playedSecurity = new Set(['runAsUser', 'runAsGroup', 'runAsNonRoot']);

/** Makes `dir` and its parents up to the scratch root readable by any user: a non-root container reads its token there. */
function opened(dir: string | undefined): void {
  if (!dir) return;
  for (let d = dir; d.startsWith(tmpdir()) && d !== tmpdir(); d = dirname(d)) chmodSync(d, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
}

/** The kubelet's crash back-off: 10 s, doubling, at most 5 minutes. */
const kubeletBackoffMs = 10_000;

const kubeletSyncMs = 100;

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class Simulator extends EventEmitter {
  readonly api: KubeletApi;
  readonly timeline: TimelineEvent[] = [];
  readonly name: string;
  readonly namespace: string;
  readonly finished: Promise<Outcome>;
  readonly #t0 = performance.now();
  readonly #pod: Json;
  readonly #opts: SimOptions;
  readonly #ctrs: Ctr[];
  #saDir = '';
  #rotation: NodeJS.Timeout | undefined;
  #finish!: (o: Outcome) => void;
  #deleting = false;
  #done = false;
  /** The AllContainersRestarting condition, once a RestartAllContainers rule has fired. */
  #condition: { type: string; status: string; reason?: string; message?: string } | undefined;
  #net: PodNetwork | undefined;
  #processes!: ContainerProcesses;
  #volumes = new Map<string, string>();
  /** Why no container may start (a volume that cannot be mounted), if any. */
  #blocked: string | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #deadlineExceeded = false;

  private constructor(api: KubeletApi, pod: Json, opts: SimOptions) {
    super();
    this.api = api;
    this.#pod = pod;
    this.#opts = opts;
    this.name = pod.metadata.name;
    this.namespace = api.namespace;
    pod.metadata.namespace = this.namespace;
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    const init = (pod.spec.initContainers ?? []) as Json[];
    const regular = (pod.spec.containers ?? []) as Json[];
    const blank = (spec: Json, kind: Kind): Ctr => ({
      spec, kind, env: {}, started: false, ready: false, timers: [], generation: 0,
      status: {
        name: spec.name, image: spec.image ?? 'simulated', imageID: '', ready: false, started: false, restartCount: 0,
        state: { waiting: { reason: kind === 'regular' && init.length > 0 ? 'PodInitializing' : 'ContainerCreating' } }, lastState: {},
      },
    });
    this.#ctrs = [
      ...init.map((c) => blank(c, c.restartPolicy === 'Always' ? 'native' : 'init')),
      ...regular.map((c) => blank(c, 'regular')),
    ];
    api.on('request', (r) => this.#record('api-request', { method: r.method, path: r.path, query: r.query, answer: r.answer }));
  }

  /** Creates the Pod in the API server and starts running it. */
  static async start(manifest: Json | string, opts: SimOptions = {}): Promise<Simulator> {
    const { pod, notes, configMaps, rbac, jobDeadlineSeconds } = typeof manifest === 'string' ? podFromManifest(manifest)
      : { pod: structuredClone(manifest), notes: [], configMaps: [], rbac: [], jobDeadlineSeconds: undefined };
    for (const injected of opts.admission?.(pod) ?? []) notes.push(`admission webhook: injected ${injected}`);
    const api = await kubeletApi(opts.api ?? 'fake', pod.metadata.namespace ?? 'default');
    if (opts.timelineFile) writeFileSync(opts.timelineFile, '');
    const sim = new Simulator(api, pod, opts);
    for (const n of notes) sim.#record('note', { note: n });
    sim.#checkSupported();
    const volumes = materialise(pod, configMaps, (field) => sim.#unsupported(field));
    sim.#volumes = volumes.dirs;
    if (volumes.unmountable.length > 0) {
      sim.#blocked = volumes.unmountable.join('; ');
      sim.#record('note', { note: `kubelet: MountVolume.SetUp failed: ${sim.#blocked}. A cluster keeps the Pod Pending, ` +
        'its containers in ContainerCreating, until the ConfigMap exists: none is started (kubectl describe pod shows FailedMount)' });
    }
    if (opts.backoffBaseMs !== undefined) {
      sim.#record('note', { note: `crash back-off ${opts.backoffBaseMs} ms doubling to ${opts.backoffBaseMs * 30} ms, as this run asked (the kubelet's: 10 s doubling to 5 min)` });
    }
    pod.spec.restartPolicy ??= 'Always';
    pod.spec.terminationGracePeriodSeconds ??= 30;
    pod.status = { phase: 'Pending', startTime: now() };
    sim.#writeStatus(false);
    const created = await api.createPod(pod, { rbac: opts.rbac ?? (rbac.length > 0 ? rbac : undefined) });
    pod.metadata.uid = created.metadata.uid;
    api.writeStatus(pod.status);
    // automountServiceAccountToken: false: the kubelet mounts no token (the directory stays empty).
    sim.#saDir = pod.spec.automountServiceAccountToken === false ? tempDir('proa-sim-nosa-')
      : await api.mountServiceAccount(join(tempDir('proa-sim-'), 'serviceaccount'));
    const rotation = opts.tokenRotationMs ?? (api.kind === 'real' ? 5000 : undefined);
    if (rotation && pod.spec.automountServiceAccountToken !== false) {
      sim.#rotation = setInterval(() => {
        void api.rotateToken().then(() => sim.#record('token-rotated', {}), () => {});
      }, rotation);
      sim.#rotation.unref();
      void sim.finished.then(() => clearInterval(sim.#rotation));
    }
    sim.#record('pod-created', { pod: sim.name, namespace: sim.namespace, restartPolicy: pod.spec.restartPolicy });
    // What a kubelet publishes first, and what proa sees first: every container waiting.
    for (const c of sim.#ctrs) sim.#recordStatus(c);
    if (opts.network === 'pod') {
      const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = api.clusterEnv('');
      sim.#net = await PodNetwork.create(host!, Number(port));
      sim.#record('note', { note: 'the Pod has a network namespace of its own: its containers share one loopback' });
    }
    sim.#processes = new ContainerProcesses({
      pod: sim.name, uid: pod.metadata.uid ?? 'uid', net: sim.#net, ownPidNamespace: opts.ownPidNamespace ?? [],
      output: (container, stream, line) => sim.#record('log', { container, stream, line }),
    });
    if (pod.spec.shareProcessNamespace) {
      const pid = await sim.#processes.shareProcessNamespace();
      sim.#record('sandbox-start', { pid, note: 'shareProcessNamespace: one PID namespace for the Pod' });
    }
    sim.#playDeadlines(pod.spec.activeDeadlineSeconds, jobDeadlineSeconds);
    void sim.#run();
    return sim;
  }

  /** spec.activeDeadlineSeconds (the kubelet's) and the Job's (the Job controller's), from the Pod's start. */
  #playDeadlines(podSeconds: unknown, jobSeconds: number | undefined): void {
    const pod = typeof podSeconds === 'number' && podSeconds > 0 ? podSeconds : undefined;
    const first = [pod, jobSeconds].filter((s): s is number => s !== undefined).sort((a, b) => a - b)[0];
    if (first === undefined) return;
    this.#deadline = setTimeout(() => {
      if (this.#done) return;
      if (first === pod) {
        this.#record('note', { note: `kubelet: the Pod's activeDeadlineSeconds (${pod}s) passed: stopping every container; the Pod fails (DeadlineExceeded)` });
        this.#deadlineExceeded = true;
        for (const c of this.#ctrs) for (const t of c.timers) clearTimeout(t);
        for (const c of this.#ctrs) this.#terminate(c);
        this.#checkDone();
      } else {
        this.#record('note', { note: `Job controller: the Job's activeDeadlineSeconds (${jobSeconds}s) passed: the Job fails (DeadlineExceeded) and its Pod is deleted` });
        this.delete();
      }
    }, first * 1000);
    this.#deadline.unref();
  }

  #record(type: string, fields: Record<string, unknown> = {}): TimelineEvent {
    // A line a container is still writing comes before what happens next in the Pod.
    if (type !== 'log') this.#processes?.flush();
    const e: TimelineEvent = { t: Math.round((performance.now() - this.#t0) * 10) / 10, type, ...fields };
    this.timeline.push(e);
    if (this.#opts.timelineFile) appendFileSync(this.#opts.timelineFile, JSON.stringify(e) + '\n');
    this.#opts.echo?.(e);
    this.emit('event', e);
    return e;
  }

  /** Resolves with the first timeline event (past or future) that matches. */
  waitFor(match: (e: TimelineEvent) => boolean): Promise<TimelineEvent> {
    return firstMatch(this, 'event', this.timeline, match);
  }

  /** The Pod's IP, where the kubelet's probes go (the host's loopback without a network namespace of its own). */
  get podIp(): string {
    return this.#net?.podIp ?? '127.0.0.1';
  }

  /** JSON log lines a container wrote on stderr (proa's log). */
  logs(container: string): Json[] {
    return this.timeline.filter((e) => e.type === 'log' && e.container === container && e.stream === 'stderr')
      .flatMap((e) => {
        try {
          return [JSON.parse(String(e.line)) as Json];
        } catch {
          return [];
        }
      });
  }

  #checkSupported(): void {
    for (const key of Object.keys(this.#pod.spec)) {
      // An empty securityContext (what the API server defaults) asks for nothing.
      if (key === 'securityContext') {
        const unplayed = Object.keys(this.#pod.spec.securityContext ?? {}).filter((k) => !playedSecurity.has(k));
        if (unplayed.length > 0) this.#unsupported(`spec.securityContext.${unplayed.join(', ')} (runAsUser and runAsGroup are played)`);
        continue;
      }
      if (!supportedPod.has(key)) this.#unsupported(`spec.${key}`);
    }
    // Istio's holdApplicationUntilProxyStarts (its injector's template on a cluster) is
    // not played: the injectors' templates here do not reorder or gate the containers.
    const proxyConfig = String(this.#pod.metadata?.annotations?.['proxy.istio.io/config'] ?? '');
    if (/holdApplicationUntilProxyStarts:\s*true/.test(proxyConfig)) this.#unsupported('proxy.istio.io/config holdApplicationUntilProxyStarts (the application is not held until the proxy starts)');
    for (const c of this.#ctrs) {
      const list = c.kind === 'regular' ? 'containers' : 'initContainers';
      for (const key of Object.keys(c.spec)) {
        if (key === 'securityContext') {
          const sc = c.spec.securityContext as Json;
          const unplayed = Object.keys(sc).filter((k) => !playedSecurity.has(k) && !(k === 'capabilities' && !sc.capabilities?.add?.length)
            && !(k === 'allowPrivilegeEscalation' && sc[k] === false));
          if (unplayed.length > 0) this.#unsupported(`${list}[${c.spec.name}].securityContext.${unplayed.join(', ')} (runAsUser, runAsGroup and dropped capabilities are played)`);
        } else if (!supportedContainer.has(key)) this.#unsupported(`${list}[${c.spec.name}].${key}`);
      }
      for (const p of [c.spec.readinessProbe, c.spec.startupProbe, c.spec.livenessProbe].filter(Boolean) as Json[]) {
        const handlers = ['httpGet', 'tcpSocket', 'exec', 'grpc'].filter((h) => p[h]);
        if (handlers.length > 1) this.#unsupported(`${list}[${c.spec.name}] a probe with ${handlers.join(' and ')} (Kubernetes allows one handler; only ${handlers[0]} is used)`);
      }
      for (const e of (c.spec.env ?? []) as Json[]) {
        if (e.valueFrom && !e.valueFrom.fieldRef) this.#unsupported(`${list}[${c.spec.name}].env[${e.name}].valueFrom (only fieldRef)`);
      }
    }
  }

  #unsupported(field: string): void {
    this.#record('unsupported', { field });
    // Once: the echo shows it where there is one.
    if (!this.#opts.echo) process.stderr.write(`simulator: ${field} is not supported and is ignored\n`);
  }

  // --- status ---------------------------------------------------------------------

  #writeStatus(publish = true): void {
    const byKind = (k: Kind[]): Json[] => this.#ctrs.filter((c) => k.includes(c.kind)).map((c) => structuredClone(c.status));
    const status = this.#pod.status;
    status.containerStatuses = byKind(['regular']).reverse(); // no order is promised: do not follow the spec's
    if (this.#ctrs.some((c) => c.kind !== 'regular')) status.initContainerStatuses = byKind(['init', 'native']);
    // What the kubelet adds besides the containers: the Pod's addresses and conditions.
    status.hostIP = '127.0.0.1';
    status.hostIPs = [{ ip: '127.0.0.1' }];
    status.podIP = this.#net?.podIp ?? '127.0.0.1';
    status.podIPs = [{ ip: status.podIP }];
    const initialized = this.#ctrs.every((c) => c.kind !== 'init' || c.status.state.terminated?.exitCode === 0)
      && this.#ctrs.every((c) => c.kind !== 'native' || c.started);
    const containersReady = this.#ctrs.every((c) => c.kind !== 'regular' || c.ready);
    const ready = containersReady && this.#ctrs.every((c) => c.kind !== 'native' || c.ready);
    const previous = new Map(((status.conditions ?? []) as Json[]).map((c) => [c.type, c]));
    const condition = (type: string, ok: boolean): Json => {
      const value = ok ? 'True' : 'False';
      const was = previous.get(type);
      return { type, status: value, lastProbeTime: null, lastTransitionTime: was?.status === value ? was.lastTransitionTime : now() };
    };
    status.conditions = [
      condition('PodReadyToStartContainers', true), condition('Initialized', initialized), condition('Ready', ready),
      condition('ContainersReady', containersReady), condition('PodScheduled', true),
      // Once a RestartAllContainers rule has fired, the kubelet keeps the condition (False after).
      ...(this.#condition ? [{ ...condition(this.#condition.type, this.#condition.status === 'True'), ...(this.#condition.reason ? { reason: this.#condition.reason, message: this.#condition.message } : {}) }] : []),
    ];
    if (!publish) return;
    this.api.writeStatus(status);
  }

  #setPhase(phase: string): void {
    if (this.#pod.status.phase === phase) return;
    this.#pod.status.phase = phase;
    this.#record('phase', { phase });
    this.#writeStatus();
  }

  #statusChanged(c: Ctr): void {
    c.status.ready = c.ready;
    c.status.started = c.started;
    this.#recordStatus(c);
    this.#writeStatus();
  }

  #recordStatus(c: Ctr): void {
    const s = c.status.state;
    const state = s.running ? (c.ready ? 'ready' : 'running') : s.terminated ? `terminated ${s.terminated.exitCode}` : `waiting ${s.waiting?.reason}`;
    this.#record('status', { container: c.spec.name, state, ready: c.ready, started: c.started, restartCount: c.status.restartCount, message: s.waiting?.message });
  }

  // --- lifecycle -----------------------------------------------------------------------

  async #run(): Promise<void> {
    if (this.#blocked) return;
    for (const c of this.#ctrs.filter((x) => x.kind !== 'regular')) {
      if (this.#deleting) return;
      if (c.kind === 'native') {
        await new Promise<void>((resolve) => {
          c.onStarted = resolve;
          this.#start(c);
        });
      } else {
        const ok = await new Promise<boolean>((resolve) => {
          c.onCompleted = resolve;
          this.#start(c);
        });
        if (!ok) return; // restartPolicy Never: the Pod has failed (see #exited)
      }
    }
    if (this.#deleting) return;
    for (const c of this.#ctrs.filter((x) => x.kind === 'regular')) this.#start(c);
    this.#setPhase('Running');
  }

  #env(c: Ctr): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOSTNAME: this.name,
      ...this.api.clusterEnv(this.#saDir),
      ...(this.#opts.env ?? {}),
    };
    const field = (path: string): string => {
      switch (path) {
        case 'metadata.name': return this.name;
        case 'metadata.namespace': return this.namespace;
        case 'metadata.uid': return this.#pod.metadata.uid ?? '';
        case 'spec.serviceAccountName': return this.#pod.spec.serviceAccountName ?? 'default';
        case 'spec.nodeName': return 'simulated-node';
        case 'status.podIP': return this.#net?.podIp ?? '127.0.0.1';
        case 'status.hostIP': return '127.0.0.1';
        default:
          this.#unsupported(`fieldRef ${path}`);
          return '';
      }
    };
    for (const e of (c.spec.env ?? []) as Json[]) {
      if (e.value !== undefined) env[e.name] = expand(String(e.value), env);
      else if (e.valueFrom?.fieldRef) env[e.name] = field(e.valueFrom.fieldRef.fieldPath);
    }
    return env;
  }

  /**
   * The user a container runs as: its runAsUser (else the Pod's), with runAsGroup (else
   * 0, a numeric user's group in an image without it). Root, or none asked: the
   * simulator's own user. What it must read (the token, the binary) is made readable.
   */
  #user(c: Ctr): { uid: number; gid: number } | undefined {
    const own = (c.spec.securityContext ?? {}) as Json;
    const pod = (this.#pod.spec.securityContext ?? {}) as Json;
    const uid = own.runAsUser ?? pod.runAsUser;
    if (typeof uid !== 'number' || uid === 0) return undefined;
    const gid = own.runAsGroup ?? pod.runAsGroup;
    opened(this.#saDir);
    return { uid, gid: typeof gid === 'number' ? gid : 0 };
  }

  #start(c: Ctr): void {
    if (this.#deleting || this.#done || this.#deadlineExceeded) return;
    const env = this.#env(c);
    c.env = env;
    const written = [...(c.spec.command ?? []), ...(c.spec.args ?? [])].map((a: string) => expand(a, env));
    const argv = mountedArgv(this.#opts.runtime?.(c.spec, written) ?? written, c.spec, this.#volumes);
    if (argv.length === 0) {
      this.#unsupported(`${c.spec.name}: a container without command (an image's entrypoint)`);
      return;
    }
    c.generation++;
    c.started = false;
    c.ready = false;
    const cwd = c.spec.workingDir ?? this.#opts.cwd ?? root;
    const id = randomBytes(32).toString('hex');
    const user = this.#user(c);
    // Another user must reach the program: a copy where the clone's directory is private.
    if (user && argv[0]?.startsWith('/')) argv[0] = forAnyUser(argv[0]);
    const proc = this.#processes.start(c.spec.name, argv, env, cwd, id, user);
    c.proc = proc;
    c.status.state = { running: { startedAt: now() } };
    c.status.containerID = `containerd://${id}`;
    // In a shared PID namespace the PID is known once the sandbox has started it.
    if (proc.pid !== undefined) this.#record('container-start', { container: c.spec.name, pid: proc.pid, argv });
    else void proc.started.then(() => this.#record('container-start', { container: c.spec.name, pid: proc.pid, argv }));
    if (!c.spec.startupProbe) this.#markStarted(c);
    else this.#statusChanged(c);
    this.#probe(c, 'startup');
    void proc.exited.then((exit) => this.#exited(c, proc, exit));
  }

  #markStarted(c: Ctr): void {
    c.started = true;
    c.onStarted?.();
    c.onStarted = undefined;
    // A running init container is never ready (the real node's parity): only regular
    // containers and native sidecars are.
    if (!c.spec.readinessProbe && c.kind !== 'init') c.ready = true;
    this.#statusChanged(c);
    this.#probe(c, 'readiness');
  }

  #probe(c: Ctr, which: 'startup' | 'readiness'): void {
    const probe = (which === 'startup' ? c.spec.startupProbe : c.spec.readinessProbe) as Probe | undefined;
    if (!probe) return;
    const gen = c.generation;
    const period = (probe.periodSeconds ?? 10) * 1000;
    const successes = probe.successThreshold ?? 1;
    const failures = probe.failureThreshold ?? 3;
    let ok = 0;
    let bad = 0;
    let last: string | undefined;
    const tick = async (): Promise<void> => {
      if (gen !== c.generation || !c.status.state.running || this.#done) return;
      const target = { spec: c.spec, env: c.env, net: this.#net };
      const { pass, detail } = await runProbe(probe, target);
      if (gen !== c.generation || !c.status.state.running) return;
      if (`${pass} ${detail}` !== last) this.#record('probe', { container: c.spec.name, probe: which, ok: pass, detail });
      // The kubelet's event of each failure, which kubectl describe pod shows (and proa reads on a ready timeout).
      if (!pass) {
        this.api.recordEvent({ fieldPath: `spec.${c.kind === 'regular' ? 'containers' : 'initContainers'}{${c.spec.name}}`, reason: 'Unhealthy',
          message: failureMessage(probe, which, target, detail) });
      }
      last = `${pass} ${detail}`;
      if (pass) { ok++; bad = 0; } else { bad++; ok = 0; }
      if (which === 'startup') {
        if (pass && ok >= 1) return this.#markStarted(c); // startup probes need one success
        if (bad >= failures) {
          this.#record('probe-failed', { container: c.spec.name, probe: which, action: 'kill' });
          c.proc?.kill('SIGKILL');
          return;
        }
      } else if (pass && ok >= successes && !c.ready) {
        c.ready = true;
        this.#statusChanged(c);
      } else if (!pass && bad >= failures && c.ready) {
        c.ready = false;
        this.#statusChanged(c);
      }
      c.timers.push(setTimeout(() => void tick(), period));
    };
    c.timers.push(setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000));
  }

  #exited(c: Ctr, proc: Proc, exit: Exit): void {
    if (c.proc !== proc) return;
    c.proc = undefined;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    const signal = exit.signal ? (constants.signals as Record<string, number>)[exit.signal] : undefined;
    const exitCode = exit.code ?? 128 + (signal ?? 0);
    this.#record('container-exit', { container: c.spec.name, exitCode, signal: exit.signal ?? undefined });
    // The kubelet's termination message: the file, at most 4096 bytes (FallbackToLogsOnError's use of the log is not played).
    const message = readMessage(proc.terminationLog);
    if (message) this.#record('termination-message', { container: c.spec.name, message });
    const terminated = {
      exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', ...(signal ? { signal } : {}), ...(message ? { message } : {}),
      startedAt: c.status.state.running?.startedAt, finishedAt: now(), containerID: c.status.containerID,
    };
    // The kubelet learns of an exit at its next relist (PLEG), not at once: its status, and
    // what follows from it, comes that much later.
    const lag = this.#opts.plegMs ?? 0;
    if (lag > 0) setTimeout(() => !this.#done && this.#noticeExit(c, exitCode, terminated), lag);
    else this.#noticeExit(c, exitCode, terminated);
  }

  #noticeExit(c: Ctr, exitCode: number, terminated: Json): void {
    c.started = false;
    c.ready = false;
    const failed = exitCode !== 0;
    const live = !this.#deleting && !this.#done && !this.#deadlineExceeded && !this.#stoppingSidecars;
    const decision = kubeletRestart(this.#pod.spec.restartPolicy as string, c.spec, exitCode);
    if (live && decision === 'restart-all') {
      c.status.state = { terminated };
      this.#statusChanged(c);
      this.#restartAll(c);
      return;
    }
    const restart = !this.#deleting && !this.#done && !this.#deadlineExceeded && (
      c.kind === 'native' ? !this.#stoppingSidecars
        : c.kind === 'init' ? failed && decision === 'restart'
          : decision === 'restart');
    if (!restart) {
      c.status.state = { terminated };
      this.#statusChanged(c);
      if (c.kind === 'init') {
        c.onCompleted?.(!failed);
        if (failed) this.#complete('Failed');
      }
      this.#checkDone();
      return;
    }
    if (c.status.restartCount === 0) {
      // The kubelet's first restart of a container is not backed off (kuberuntime_manager.go
      // doBackOff: the container is not in back-off yet): the status shows it terminated
      // until the next sync starts it again (the real node: `terminated 42 > ready#1`).
      c.status.state = { terminated };
      this.#statusChanged(c);
      c.timers.push(setTimeout(() => {
        c.status.lastState = { terminated };
        c.status.restartCount++;
        this.#record('container-restart', { container: c.spec.name, restartCount: c.status.restartCount });
        this.#start(c);
      }, 0));
      return;
    }
    c.status.lastState = { terminated };
    const base = this.#opts.backoffBaseMs ?? kubeletBackoffMs;
    const delay = Math.min(base * 30, base * 2 ** (c.status.restartCount - 1));
    c.status.restartCount++;
    c.status.state = { waiting: { reason: failed ? 'CrashLoopBackOff' : 'Completed', message: `back-off ${delay}ms restarting container=${c.spec.name} pod=${this.name}_${this.namespace}` } };
    this.#statusChanged(c);
    c.timers.push(setTimeout(() => {
      this.#record('container-restart', { container: c.spec.name, restartCount: c.status.restartCount });
      this.#start(c);
    }, delay));
  }

  #stoppingSidecars = false;
  #restartingAll = false;

  /**
   * A RestartAllContainers rule fired: the kubelet kills every other container with no
   * grace period, removes them all (each status waiting RestartingAllContainers, its last
   * state a 137 of that reason, its restart count up by one; the Pod's condition
   * AllContainersRestarting True meanwhile), then starts the Pod again from its init
   * containers (kuberuntime_manager.go, kubelet_pods.go convertToAPIContainerStatuses).
   */
  #restartAll(trigger: Ctr): void {
    if (this.#restartingAll) return;
    this.#restartingAll = true;
    this.#record('restart-all', { container: trigger.spec.name, exitCode: trigger.status.state.terminated?.exitCode });
    this.#condition = { type: 'AllContainersRestarting', status: 'True', reason: 'RestartAllContainersStarted', message: 'container exited with restart policy rule' };
    const procs: Proc[] = [];
    for (const c of this.#ctrs) {
      for (const t of c.timers) clearTimeout(t);
      c.timers = [];
      c.generation++;
      c.onStarted = undefined;
      c.onCompleted = undefined;
      if (c.proc) {
        procs.push(c.proc);
        this.#record('signal', { container: c.spec.name, signal: 'SIGKILL' });
        c.proc.kill('SIGKILL');
        c.proc = undefined;
      }
    }
    this.#writeStatus();
    void Promise.all(procs.map((p) => p.exited)).then(() => {
      const message = 'The container is removed because RestartAllContainers in place';
      for (const c of this.#ctrs) {
        c.started = false;
        c.ready = false;
        c.status.state = { waiting: { reason: 'RestartingAllContainers', message } };
        c.status.lastState = { terminated: { reason: 'RestartingAllContainers', message, exitCode: 137 } };
        c.status.restartCount++;
        c.status.ready = false;
        c.status.started = false;
        this.#recordStatus(c);
      }
      this.#writeStatus();
      this.#condition = { type: 'AllContainersRestarting', status: 'False' };
      this.#restartingAll = false;
      this.#record('containers-removed', {});
      void this.#run();
    });
  }

  /** All regular containers ended for good: stop native sidecars, then settle the phase. */
  #checkDone(): void {
    const regular = this.#ctrs.filter((c) => c.kind === 'regular');
    if (this.#deadlineExceeded) {
      if (this.#ctrs.every((c) => !c.proc)) {
        this.#pod.status.reason = 'DeadlineExceeded';
        this.#pod.status.message = `Pod was active on the node longer than the specified deadline`;
        this.#complete('Failed');
      }
      return;
    }
    if (this.#deleting) {
      if (this.#ctrs.every((c) => !c.proc)) void this.#finishDeletion();
      else if (regular.every((c) => !c.proc)) this.#stopNative();
      return;
    }
    const allEnded = regular.length > 0 && regular.every((c) => c.status.state.terminated && !c.proc);
    if (!allEnded) return;
    if (this.#ctrs.some((c) => c.kind === 'native' && c.proc)) {
      this.#stopNative();
      return;
    }
    const failed = regular.some((c) => c.status.state.terminated.exitCode !== 0);
    this.#complete(failed ? 'Failed' : 'Succeeded');
  }

  #stopNative(): void {
    if (this.#stoppingSidecars) return;
    this.#stoppingSidecars = true;
    const natives = this.#ctrs.filter((c) => c.kind === 'native' && c.proc).reverse();
    for (const c of natives) this.#terminate(c);
  }

  /** TERM, then KILL when the grace period is over. */
  #terminate(c: Ctr): void {
    const proc = c.proc;
    if (!proc) return;
    this.#record('signal', { container: c.spec.name, signal: 'SIGTERM' });
    proc.kill('SIGTERM');
    const grace = (this.#pod.metadata.deletionGracePeriodSeconds ?? this.#pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const timer = setTimeout(() => {
      if (c.proc !== proc) return;
      this.#record('signal', { container: c.spec.name, signal: 'SIGKILL' });
      proc.kill('SIGKILL');
    }, grace);
    void proc.exited.then(() => clearTimeout(timer));
  }

  #complete(phase: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#setPhase(phase);
    this.#finish(this.#outcome(false));
  }

  #outcome(deleted: boolean): Outcome {
    const exitCodes: Record<string, number | undefined> = {};
    const restarts: Record<string, number> = {};
    for (const c of this.#ctrs) {
      exitCodes[c.spec.name] = c.status.state.terminated?.exitCode;
      restarts[c.spec.name] = c.status.restartCount;
    }
    return { phase: this.#pod.status.phase, deleted, exitCodes, restarts };
  }

  /** Graceful deletion, as `kubectl delete pod` does it. */
  delete(graceSeconds?: number): void {
    if (this.#deleting) return;
    this.#deleting = true;
    const grace = graceSeconds ?? this.#pod.spec.terminationGracePeriodSeconds ?? 30;
    this.#pod.metadata.deletionGracePeriodSeconds = grace;
    void this.api.beginDelete(grace).then((pod) => {
      this.#pod.metadata.deletionTimestamp = pod.metadata.deletionTimestamp;
      this.#record('deletion', { deletionTimestamp: pod.metadata.deletionTimestamp, graceSeconds: pod.metadata.deletionGracePeriodSeconds });
    });
    for (const c of this.#ctrs) for (const t of c.timers) clearTimeout(t);
    // The kubelet learns of the deletion through its own watch, a moment after every
    // other watcher (proa included) has been sent the MODIFIED event.
    setTimeout(() => {
      for (const c of this.#ctrs.filter((x) => x.kind !== 'native')) this.#terminate(c);
      this.#checkDone();
    }, kubeletSyncMs);
  }

  async #finishDeletion(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.api.finishDelete();
    this.#record('pod-deleted', {});
    this.#finish(this.#outcome(true));
  }

  /**
   * `kubectl exec POD -c NAME -- argv`: runs `argv` in the container's namespaces (mount,
   * UTS, network, and its PID namespace, where it has one) with its environment; its
   * output lines go into the timeline as the container's `exec` lines.
   */
  async exec(name: string, argv: string[], shown: string[] = argv): Promise<Exit> {
    const c = this.#ctrs.find((x) => x.spec.name === name);
    if (!c?.proc) throw new Error(`container ${name} is not running`);
    await c.proc.started;
    let target = c.proc.pid!;
    if (this.#opts.ownPidNamespace?.includes(name)) {
      // `unshare --fork` holds the namespace; the container's PID 1 is its child.
      target = Number(readFileSync(`/proc/${target}/task/${target}/children`, 'utf8').trim().split(/\s+/)[0]);
    }
    this.#record('exec', { container: name, argv: shown });
    // A container started as /opt/proa/proa has the portable folder (scratch, distroless,
    // Alpine): no `proa` on its PATH, as `kubectl exec` would find.
    const started = [...(c.spec.command ?? []), ...(c.spec.args ?? [])][0];
    if (shown[0] === 'proa' && started === '/opt/proa/proa') {
      this.#record('exec-output', { container: name, stream: 'stderr',
        line: 'exec: "proa": executable file not found in $PATH (this image has proa at /opt/proa/proa: exec that)' });
      this.#record('exec-exit', { container: name, exitCode: 127 });
      return { code: 127, signal: null };
    }
    const child = spawn('nsenter', ['-t', String(target), '-m', '-u', '-n', '-p', '--', ...argv], { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) => this.#record('exec-output', { container: name, stream, line }));
    }
    const exit = await new Promise<Exit>((resolve) => {
      child.once('error', () => resolve({ code: 127, signal: null }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    this.#record('exec-exit', { container: name, exitCode: exit.code, signal: exit.signal ?? undefined });
    return exit;
  }

  /** The fake API server under this Pod, for fault injection; the real back end has none. */
  get fake(): FakeApiServer {
    if (!this.api.fake) throw new Error('this simulation runs on the real API server: no fault injection');
    return this.api.fake;
  }

  /** Kills whatever still runs and stops the API server. */
  async stop(): Promise<void> {
    this.#done = true;
    clearInterval(this.#rotation);
    clearTimeout(this.#deadline);
    for (const c of this.#ctrs) {
      for (const t of c.timers) clearTimeout(t);
      c.proc?.kill('SIGKILL');
    }
    await Promise.all(this.#ctrs.map((c) => c.proc?.exited));
    this.#processes?.stop();
    await this.#net?.stop();
    await this.api.stop();
  }
}

/** A container's termination log as the kubelet reads it: at most 4096 bytes; none when empty or absent. */
function readMessage(file: string): string | undefined {
  if (!file) return undefined;
  try {
    const text = readFileSync(file).subarray(0, 4096).toString();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/** Kubernetes' $(VAR) expansion in command, args and env values; $$ escapes. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && env[name] !== undefined ? env[name]! : m);
}
