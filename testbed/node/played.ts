// A manifest played on the real node, as the suites and the demo see it: applied with
// kubectl in a fresh namespace, its Pod followed by a watch (every status the API
// server publishes, which is what proa sees), its containers' logs read with
// `kubectl logs` as a user would, `kubectl exec` into it, and the Pod deleted on demand.
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { kubeBinDir } from '../api/real-apiserver.ts';
import { randomBytes } from 'node:crypto';
import type { ControlPlaneAccess } from '../api/real-apiserver.ts';
import type { Json } from '../api/fake-apiserver.ts';
import type { TimelineEvent } from '../simulator/simulator.ts';
import { kubectlFlags, type NodeClient } from './node.ts';
import { proaStory } from '../simulator/kubelet-api.ts';

export interface Outcome {
  phase: string;
  exitCodes: Record<string, number>;
  /** The Pod was deleted before it ended: the codes are from its last status. */
  deleted: boolean;
}

interface Exec { code: number | null; stdout: string; stderr: string }

export class PlayedOnNode {
  readonly namespace: string;
  readonly timeline: TimelineEvent[] = [];
  readonly finished: Promise<Outcome>;
  pod: Json | undefined;
  readonly #node: NodeClient;
  readonly #t0 = performance.now();
  /** Each container's last recorded state, restart count and `started`. */
  readonly #states = new Map<string, string>();
  readonly #others = new Set<string>();
  #phase: string | undefined;
  #deleting = false;
  #deleted = false;
  #waiters: { match: (e: TimelineEvent) => boolean; resolve: (e: TimelineEvent) => void }[] = [];
  #end: (o: Outcome) => void = () => {};
  #closeWatch: () => void = () => {};
  #echo: ((e: TimelineEvent) => void) | undefined;
  /** The wall clock at the start, for log lines' timestamps. */
  readonly #wall = Date.now();

  private constructor(node: NodeClient, namespace: string) {
    this.#node = node;
    this.namespace = namespace;
    this.finished = new Promise((resolve) => (this.#end = resolve));
  }

  /** Applies `manifest` (YAML, any number of documents) in a fresh namespace and follows its Pod. */
  static async play(node: NodeClient, manifest: string, prefix = 'play', echo?: (e: TimelineEvent) => void): Promise<PlayedOnNode> {
    const p = new PlayedOnNode(node, `${prefix}-${randomBytes(3).toString('hex')}`);
    p.#echo = echo;
    const created = await node.kubectl(['create', 'namespace', p.namespace]);
    if (created.code !== 0) throw new Error(`kubectl create namespace: ${created.stderr}`);
    p.#closeWatch = watchPods(node.access, p.namespace, (type, pod) => p.#observe(type, pod));
    const applied = await node.kubectl(['apply', '-n', p.namespace, '-f', '-'], manifest);
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
    p.#record('applied', { namespace: p.namespace, objects: applied.stdout.trim().split('\n') });
    // A CronJob runs at once, as `kubectl create job --from=cronjob/NAME` runs it, rather
    // than at its schedule, which could be hours away.
    const cronJob = applied.stdout.match(/^cronjob\.batch\/(\S+) (?:created|configured|unchanged)/m)?.[1];
    if (cronJob) {
      const job = `${cronJob.slice(0, 40)}-now`;
      const created = await node.kubectl(['create', 'job', '-n', p.namespace, job, `--from=cronjob/${cronJob}`]);
      if (created.code !== 0) throw new Error(`kubectl create job --from=cronjob/${cronJob}: ${created.stderr}`);
      p.#record('job-from-cronjob', { cronJob, job });
    }
    return p;
  }

  /** `at`: the moment of one observation, shared by every event it holds (one status write is one moment). */
  #record(type: string, fields: Record<string, unknown>, at = performance.now()): void {
    const e: TimelineEvent = { t: Math.round(at - this.#t0), type, ...fields };
    this.timeline.push(e);
    this.#echo?.(e);
    this.#waiters = this.#waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
  }

  waitFor(match: (e: TimelineEvent) => boolean): Promise<TimelineEvent> {
    const seen = this.timeline.find(match);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  #observe(type: string, pod: Json): void {
    const at = performance.now();
    // The first Pod is the one played; a Job's retry is another Pod, named once.
    if (this.pod !== undefined && pod.metadata.uid !== this.pod.metadata.uid) {
      if (!this.#others.has(pod.metadata.uid)) this.#record('other-pod', { pod: pod.metadata.name });
      this.#others.add(pod.metadata.uid);
      return;
    }
    if (this.pod === undefined) this.#record('pod-created', { pod: pod.metadata.name, namespace: this.namespace, restartPolicy: pod.spec.restartPolicy });
    this.pod = pod;
    if (pod.metadata.deletionTimestamp && !this.#deleting) {
      this.#deleting = true;
      this.#record('deletion', { graceSeconds: pod.metadata.deletionGracePeriodSeconds });
    }
    for (const s of statusesOf(pod)) {
      const st = s.state ?? {};
      const state = st.running ? (s.ready ? 'ready' : 'running') : st.terminated ? `terminated ${st.terminated.exitCode}` : `waiting ${st.waiting?.reason}`;
      const key = `${state}/${s.restartCount}/${s.started}`;
      if (this.#states.get(s.name) === key) continue;
      this.#states.set(s.name, key);
      this.#record('status', { container: s.name, state, ready: s.ready, started: s.started, restartCount: s.restartCount }, at);
    }
    const phase = String(pod.status?.phase ?? 'Pending');
    if (this.#phase !== phase) {
      this.#phase = phase;
      this.#record('phase', { phase });
    }
    if (type === 'DELETED') {
      this.#deleted = true;
      this.#record('pod-deleted', {});
    }
    if (this.#deleted || phase === 'Succeeded' || phase === 'Failed') this.#end(this.lastOutcome());
  }

  /** The phase and exit codes of the last status seen (after a deletion: the one before the Pod was gone). */
  lastOutcome(): Outcome {
    const exitCodes: Record<string, number> = {};
    for (const s of statusesOf(this.pod)) if (s.state?.terminated) exitCodes[s.name] = s.state.terminated.exitCode;
    return { phase: this.#phase ?? 'Pending', exitCodes, deleted: this.#deleted };
  }

  /** A container's log lines, as `kubectl logs` gives them (`previous`: the run before its last restart). */
  async logs(container: string, previous = false): Promise<string[]> {
    const r = await this.#node.kubectl(['logs', '-n', this.namespace, String(this.pod?.metadata.name), '-c', container, ...(previous ? ['--previous'] : [])]);
    if (r.code !== 0) throw new Error(`kubectl logs ${container}: ${r.stderr}`);
    return r.stdout.split('\n').filter((line) => line !== '');
  }

  /**
   * Every container's log as timeline events, placed by the kubelet's own timestamps
   * (`kubectl logs --timestamps`); proa's JSON lines are its stderr.
   */
  async logEvents(): Promise<TimelineEvent[]> {
    const events: TimelineEvent[] = [];
    for (const s of statusesOf(this.pod)) {
      const r = await this.#node.kubectl(['logs', '--timestamps', '-n', this.namespace, String(this.pod?.metadata.name), '-c', s.name]);
      for (const raw of r.stdout.split('\n').filter((l) => l !== '')) {
        const space = raw.indexOf(' ');
        const line = raw.slice(space + 1);
        // A line without the kubelet's timestamp cannot be placed: it is not a log line.
        if (Number.isNaN(Date.parse(raw.slice(0, space)))) continue;
        events.push({ t: Date.parse(raw.slice(0, space)) - this.#wall, type: 'log', container: s.name, stream: line.startsWith('{"time"') ? 'stderr' : 'stdout', line });
      }
    }
    return events;
  }

  /** The Events proa posted on its Pod, oldest first, as `TYPE Reason` (what `kubectl describe pod` lists as from proa). */
  async proaEvents(): Promise<string[]> {
    const r = await this.#node.kubectl(['get', 'events.events.k8s.io', '-n', this.namespace, '-o', 'json']);
    if (r.code !== 0) throw new Error(`kubectl get events: ${r.stderr}`);
    return proaStory((JSON.parse(r.stdout) as Json).items ?? []);
  }

  /** Until a container writes a line that `match`es (`kubectl logs -f`, as a user follows a log). */
  waitForLog(container: string, match: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const f = spawn(join(kubeBinDir(), 'kubectl'), [...kubectlFlags(this.#node.kubeconfig), 'logs', '-f', '-n', this.namespace,
        String(this.pod?.metadata.name), '-c', container], { stdio: ['ignore', 'pipe', 'pipe'] });
      createInterface({ input: f.stdout }).on('line', (line) => {
        if (!match(line)) return;
        f.kill();
        resolve(line);
      });
      f.on('exit', (code) => reject(new Error(`kubectl logs -f ${container} ended (${code}) before the line came`)));
    });
  }

  exec(container: string, argv: string[]): Promise<Exec> {
    return this.#node.kubectl(['exec', '-n', this.namespace, String(this.pod?.metadata.name), '-c', container, '--', ...argv]);
  }

  /** Deletes the Pod played, if one was created by now; false when there was none. */
  async deletePod(): Promise<boolean> {
    if (!this.pod) return false;
    await this.#node.kubectl(['delete', 'pod', '-n', this.namespace, String(this.pod.metadata.name), '--wait=false']);
    return true;
  }

  /** Stops following; the namespace (and so its Pods) is deleted in the background. */
  async stop(): Promise<void> {
    this.#closeWatch();
    await this.#node.kubectl(['delete', 'namespace', this.namespace, '--wait=false']);
  }
}

/** Every event of the namespace's Pods, as the harness's admin; restarts the watch when the server ends it. */
function watchPods(access: ControlPlaneAccess, namespace: string, onEvent: (type: string, pod: Json) => void): () => void {
  let closed = false;
  let current: { destroy(): void } | undefined;
  let rv = '';
  const open = (): void => {
    if (closed) return;
    // One reopening per request, however it ended (end, error, close can all fire).
    let reopened = false;
    const again = (): void => {
      if (reopened) return;
      reopened = true;
      setTimeout(open, 200);
    };
    const req = request({
      host: access.host, port: access.port, ca: access.ca, cert: access.adminCert, key: access.adminKey, agent: false,
      path: `/api/v1/namespaces/${namespace}/pods?watch=1&allowWatchBookmarks=false${rv ? `&resourceVersion=${rv}` : ''}`,
    }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          let e: { type: string; object: Json };
          try {
            e = JSON.parse(line) as { type: string; object: Json };
          } catch {
            res.destroy(); // not a watch: start again
            return;
          }
          if (e.type === 'ERROR' || typeof e.object?.metadata !== 'object') {
            rv = '';
            continue;
          }
          rv = String(e.object.metadata?.resourceVersion ?? rv);
          onEvent(e.type, e.object);
        }
      });
      res.on('close', again);
    });
    req.on('error', again);
    req.end();
    current = req;
  };
  open();
  return () => {
    closed = true;
    current?.destroy();
  };
}

function statusesOf(pod: Json | undefined): Json[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}
