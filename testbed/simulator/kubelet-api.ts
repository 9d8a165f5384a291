// What the simulated kubelet does with the API, on either back end: one interface, so
// that the simulator's status logic is one code path.
//   fake  ../api/fake-apiserver.ts: fast, in-process, injects faults; its requests are recorded
//   real  kube-apiserver and etcd (../api/real-apiserver.ts): the authority on behaviour
// On the real one the kubelet's work is done with real requests: the namespace, the
// ServiceAccount and the README's Role and RoleBinding (read from examples/job.yaml,
// so that the documentation is what gets tested), the Pod, its binding to a node, its
// status through pods/status, a bound service-account token from the TokenRequest API,
// and a graceful deletion finished with gracePeriodSeconds=0.
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { FakeApiServer, type Json } from '../api/fake-apiserver.ts';
import { adminRequest, type ControlPlaneAccess } from '../api/real-apiserver.ts';
import { root } from '../paths.ts';

export type Backend = 'fake' | 'real';

export interface KubeletApi extends EventEmitter {
  readonly kind: Backend;
  /** The fake server (fault injection, recorded requests); undefined on the real back end. */
  readonly fake: FakeApiServer | undefined;
  /** The namespace the Pod lives in (on the real server a fresh one per Pod). */
  readonly namespace: string;
  /** Creates the Pod (and, on the real server, what it needs first), bound to a node. */
  /** Creates the Pod; on the real API server also its namespace, ServiceAccounts and RBAC (`rbac`: these documents, or none). */
  createPod(pod: Json, opts?: { rbac?: false | Json[] }): Promise<Json>;
  /** token, ca.crt and namespace for the Pod's containers, as the kubelet's projected volume. */
  mountServiceAccount(dir: string): Promise<string>;
  /** A fresh token in every mounted directory (the kubelet rotates it). */
  rotateToken(): Promise<void>;
  clusterEnv(saDir: string): Record<string, string>;
  /** Publishes the Pod's status; writes are applied in order. */
  writeStatus(status: Json): void;
  /** An Event on the Pod, as the kubelet's recorder writes it (Unhealthy for a failed probe): raised count when it repeats. */
  recordEvent(e: { fieldPath?: string; reason: string; message: string }): void;
  /** Graceful deletion, first step: deletionTimestamp set. */
  beginDelete(graceSeconds: number | undefined): Promise<Json>;
  /** Every container has stopped: the Pod is removed (DELETED). */
  finishDelete(): Promise<void>;
  /** Waits for every write so far. */
  settled(): Promise<void>;
  /** The Events proa posted on its Pod (either group), oldest first, as `TYPE Reason`. */
  proaEvents(): Promise<string[]>;
  stop(): Promise<void>;
}

/** proa's Events among `items` (either group's shape), oldest first, as `TYPE Reason`. */
export function proaStory(items: Json[]): string[] {
  const at = (e: Json): string => String(e.eventTime ?? e.firstTimestamp ?? '');
  return items.filter((e) => e.reportingController === 'proa' || e.source?.component === 'proa')
    .sort((a, b) => at(a).localeCompare(at(b)) || Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion)).map((e) => `${String(e.type)} ${String(e.reason)}`);
}

export function realAccess(): ControlPlaneAccess | undefined {
  const text = process.env.PROA_REAL_API;
  return text ? (JSON.parse(text) as ControlPlaneAccess) : undefined;
}

export async function kubeletApi(kind: Backend, namespace: string): Promise<KubeletApi> {
  if (kind === 'fake') return FakeKubeletApi.start(namespace);
  const access = realAccess();
  if (!access) throw new Error('the real API server is not running (PROA_REAL_API is unset): run the tests with npm test after npm run kube:build');
  return new RealKubeletApi(access, `${namespace}-${randomBytes(3).toString('hex')}`);
}

class FakeKubeletApi extends EventEmitter implements KubeletApi {
  readonly kind = 'fake' as const;
  readonly fake: FakeApiServer;
  readonly namespace: string;
  #name = '';

  private constructor(fake: FakeApiServer, namespace: string) {
    super();
    this.fake = fake;
    this.namespace = namespace;
    fake.on('request', (r) => this.emit('request', r));
  }

  static async start(namespace: string): Promise<FakeKubeletApi> {
    return new FakeKubeletApi(await FakeApiServer.start({ bookmarkIntervalMs: 60_000 }), namespace);
  }

  /**
   * As on the real server, the Pod's own service account (its serviceAccountName, else
   * `default`) is who proa is, and it may do on pods what `rbac` grants it: nothing
   * (false), or what the Roles bound to it name (undefined: the README's Role and
   * RoleBinding), by the same rules as kube-apiserver's RBAC (podRbac).
   */
  async createPod(pod: Json, opts: { rbac?: false | Json[] } = {}): Promise<Json> {
    this.#name = pod.metadata.name;
    const account = pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? 'default';
    this.fake.useServiceAccount(account);
    const docs = opts.rbac === false ? [] : opts.rbac ?? documentedRbac();
    const granted = podRbac(docs, account, this.namespace);
    this.fake.forbid(...['get', 'list', 'watch'].filter((v) => !granted.has(v) && !granted.has('*')));
    const events = podRbac(docs, account, this.namespace, 'events');
    this.fake.forbidEvents(!events.has('list') && !events.has('*'));
    // proa's own Events: create (and patch, for a series) in each group, as the Role grants them.
    const writes = (group: string): boolean => { const v = podRbac(docs, account, this.namespace, 'events', group); return v.has('create') || v.has('*'); };
    this.fake.grantEventWrites(['events.k8s.io', ''].filter(writes));
    return this.fake.putPod({ ...pod, metadata: { ...pod.metadata, namespace: this.namespace } });
  }

  async mountServiceAccount(dir: string): Promise<string> {
    return this.fake.writeServiceAccount(dir, this.namespace);
  }

  async rotateToken(): Promise<void> {
    this.fake.rotateToken();
  }

  clusterEnv(saDir: string): Record<string, string> {
    return this.fake.clusterEnv(saDir);
  }

  writeStatus(status: Json): void {
    this.fake.updatePod(this.namespace, this.#name, (p) => { p.status = structuredClone(status); });
  }

  recordEvent(e: { fieldPath?: string; reason: string; message: string }): void {
    const pod = this.fake.pod(this.namespace, this.#name);
    if (pod) this.fake.recordEvent(this.namespace, { uid: pod.metadata.uid, name: this.#name, ...e });
  }

  async beginDelete(graceSeconds: number | undefined): Promise<Json> {
    return this.fake.beginDelete(this.namespace, this.#name, graceSeconds);
  }

  async finishDelete(): Promise<void> {
    this.fake.finishDelete(this.namespace, this.#name);
  }

  async settled(): Promise<void> {}

  async proaEvents(): Promise<string[]> {
    return proaStory(this.fake.postedEvents.map((p) => p.event));
  }

  stop(): Promise<void> {
    return this.fake.stop();
  }
}

/**
 * The verbs on pods (core group) that `docs` grant service account `account` of
 * `namespace`, as kube-apiserver's RBAC decides them: a RoleBinding (in the namespace) or
 * a ClusterRoleBinding whose subjects name that ServiceAccount (a subject's namespace
 * defaults to the binding's), to a Role of the binding's namespace or a ClusterRole, of
 * these documents or one of the built-in ones that read pods (view, edit, admin,
 * cluster-admin); and the groups system:serviceaccounts and
 * system:serviceaccounts:NAMESPACE. A Role in the manifest that nothing binds to the Pod's
 * account grants it nothing, as in a cluster.
 */
export function podRbac(docs: Json[], account: string, namespace: string, resource = 'pods', group = ''): Set<string> {
  const builtIn: Record<string, string[]> = { view: ['get', 'list', 'watch'], edit: ['get', 'list', 'watch'], admin: ['get', 'list', 'watch'], 'cluster-admin': ['*'] };
  const forPods = (rules: Json[] | undefined): string[] => (rules ?? [])
    .filter((r) => ((r.apiGroups ?? []) as string[]).some((g) => g === group || g === '*') && ((r.resources ?? []) as string[]).some((x) => x === resource || x === '*'))
    .flatMap((r) => (r.verbs ?? []) as string[]);
  const verbs = new Set<string>();
  for (const b of docs.filter((d) => d?.kind === 'RoleBinding' || d?.kind === 'ClusterRoleBinding')) {
    const bindingNs = b.kind === 'RoleBinding' ? (b.metadata?.namespace ?? namespace) : undefined;
    if (bindingNs !== undefined && bindingNs !== namespace) continue;
    const names = ((b.subjects ?? []) as Json[]).some((s) =>
      (s.kind === 'ServiceAccount' && s.name === account && (s.namespace ?? bindingNs) === namespace)
      || (s.kind === 'Group' && (s.name === 'system:serviceaccounts' || s.name === `system:serviceaccounts:${namespace}`)));
    if (!names) continue;
    const ref = b.roleRef ?? {};
    const role = docs.find((d) => d?.kind === ref.kind && d?.metadata?.name === ref.name
      && (ref.kind === 'ClusterRole' || (d.metadata?.namespace ?? namespace) === namespace));
    if (ref.kind === 'Role' && b.kind === 'ClusterRoleBinding') continue;
    for (const v of role ? forPods(role.rules) : ref.kind === 'ClusterRole' ? builtIn[ref.name] ?? [] : []) verbs.add(v);
  }
  return verbs;
}

/** The README's ServiceAccount, Role and RoleBinding, as examples/job.yaml has them. */
export function documentedRbac(): Json[] {
  const docs = parseAllDocuments(readFileSync(join(root, 'examples', 'job.yaml'), 'utf8')).map((d) => d.toJS() as Json);
  return docs.filter((d) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(d?.kind));
}

export class RealKubeletApi extends EventEmitter implements KubeletApi {
  readonly kind = 'real' as const;
  readonly fake = undefined;
  readonly namespace: string;
  readonly #access: ControlPlaneAccess;
  #pod: Json | undefined;
  readonly #events = new Map<string, Json>();
  #queue: Promise<unknown> = Promise.resolve();
  #dirs: string[] = [];
  #token = '';

  constructor(access: ControlPlaneAccess, namespace: string) {
    super();
    this.#access = access;
    this.namespace = namespace;
  }

  async #call(method: string, path: string, body?: unknown, contentType?: string): Promise<Json> {
    // As the kubelet does, keep trying while the API server is away (a restart): up to a minute.
    let r;
    for (let attempt = 0; ; attempt++) {
      try {
        r = await adminRequest(this.#access, method, path, body, contentType);
        if (r.status !== 503 || attempt >= 120) break;
      } catch (err) {
        if (attempt >= 120) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as Json;
  }

  /** A request as the harness's admin; throws on an error status. */
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<Json> {
    return this.#call(method, path, body, contentType);
  }

  /** The README's Role and RoleBinding (or the given documents) in this namespace. */
  async applyRbac(docs: Json[] = documentedRbac()): Promise<void> {
    const ns = this.namespace;
    for (const doc of docs) {
      // Cluster-wide: named for this namespace, so that runs sharing the server do not collide.
      const cluster = (d: Json): Json => ({ ...d, metadata: { ...d.metadata, name: `${d.metadata?.name}-${ns}` } });
      const ours = (ref: Json | undefined): boolean => ref?.kind === 'ClusterRole' && docs.some((d) => d.kind === 'ClusterRole' && d.metadata?.name === ref.name);
      if (doc.kind === 'Role') await this.#call('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, doc);
      if (doc.kind === 'RoleBinding') {
        await this.#call('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
          ours(doc.roleRef) ? { ...doc, roleRef: { ...doc.roleRef, name: `${doc.roleRef.name}-${ns}` } } : doc);
      }
      if (doc.kind === 'ClusterRole') await this.#call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', cluster(doc));
      if (doc.kind === 'ClusterRoleBinding') {
        await this.#call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
          { ...cluster(doc), roleRef: ours(doc.roleRef) ? { ...doc.roleRef, name: `${doc.roleRef.name}-${ns}` } : doc.roleRef });
      }
    }
  }

  /** The current token (the last one minted). */
  get token(): string {
    return this.#token;
  }

  async createPod(input: Json, opts: { rbac?: false | Json[] } = {}): Promise<Json> {
    const ns = this.namespace;
    const account = input.spec.serviceAccountName ?? input.spec.serviceAccount ?? 'default';
    await this.#call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    // No kube-controller-manager: nobody else creates ServiceAccounts, not even `default`.
    const accounts = new Set(['default', account]);
    for (const name of accounts) await this.#call('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
    if (opts.rbac !== false) await this.applyRbac(opts.rbac);
    const { status: _, ...pod } = structuredClone(input);
    pod.metadata = { ...pod.metadata, namespace: ns };
    delete pod.metadata.uid;
    delete pod.metadata.creationTimestamp;
    delete pod.metadata.resourceVersion;
    // ownerReferences need the owner's uid; there is no Job object here to own the Pod.
    delete pod.metadata.ownerReferences;
    this.#pod = await this.#call('POST', `/api/v1/namespaces/${ns}/pods`, pod);
    await this.#call('POST', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/binding`, {
      apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name }, target: { apiVersion: 'v1', kind: 'Node', name: 'simulated-node' },
    });
    return this.#pod;
  }

  /** A bound token from the TokenRequest API: valid while its Pod exists. */
  async #mint(): Promise<string> {
    const pod = this.#pod!;
    const account = pod.spec.serviceAccountName ?? 'default';
    const r = await this.#call('POST', `/api/v1/namespaces/${this.namespace}/serviceaccounts/${account}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    });
    this.#token = r.status.token as string;
    this.emit('token', this.#token);
    return this.#token;
  }

  async mountServiceAccount(dir: string): Promise<string> {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), this.#token || await this.#mint());
    writeFileSync(join(dir, 'ca.crt'), this.#access.ca);
    writeFileSync(join(dir, 'namespace'), this.namespace);
    this.#dirs.push(dir);
    return dir;
  }

  async rotateToken(): Promise<void> {
    const token = await this.#mint();
    for (const dir of this.#dirs) writeFileSync(join(dir, 'token'), token);
  }

  /**
   * Deletes and recreates the Pod's ServiceAccount: every token minted for the old one
   * stops working at once (the token names the account's uid), without waiting for the
   * 600 s minimum lifetime of a TokenRequest token. The mounted files keep the old token.
   */
  async recreateServiceAccount(): Promise<void> {
    const account = this.#pod!.spec.serviceAccountName ?? 'default';
    await this.#call('DELETE', `/api/v1/namespaces/${this.namespace}/serviceaccounts/${account}`);
    await this.#call('POST', `/api/v1/namespaces/${this.namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account } });
  }

  clusterEnv(saDir: string): Record<string, string> {
    return { KUBERNETES_SERVICE_HOST: this.#access.host, KUBERNETES_SERVICE_PORT: String(this.#access.port), PROA_SERVICEACCOUNT_DIR: saDir };
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work);
    this.#queue = next.catch((err: unknown) => this.emit('error-write', err));
    return next;
  }

  writeStatus(status: Json): void {
    const name = this.#pod!.metadata.name;
    const body = { status: structuredClone(status) };
    void this.#enqueue(() => this.#call('PATCH', `/api/v1/namespaces/${this.namespace}/pods/${name}/status`, body, 'application/merge-patch+json'));
  }

  /** Created once per distinct message, its count raised after (the recorder's aggregation, simplified). */
  recordEvent(e: { fieldPath?: string; reason: string; message: string }): void {
    const pod = this.#pod!;
    const key = `${e.fieldPath ?? ''}/${e.reason}/${e.message}`;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const had = this.#events.get(key);
    if (had) {
      had.count += 1;
      had.lastTimestamp = now;
      void this.#enqueue(() => this.#call('PUT', `/api/v1/namespaces/${this.namespace}/events/${had.metadata.name}`, had).then((saved) => { had.metadata = saved.metadata; }));
      return;
    }
    const event: Json = {
      apiVersion: 'v1', kind: 'Event', metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: this.namespace },
      involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: this.namespace, name: pod.metadata.name, uid: pod.metadata.uid, ...(e.fieldPath ? { fieldPath: e.fieldPath } : {}) },
      reason: e.reason, message: e.message, type: 'Warning', source: { component: 'kubelet', host: 'simulated-node' },
      firstTimestamp: now, lastTimestamp: now, count: 1,
    };
    this.#events.set(key, event);
    void this.#enqueue(() => this.#call('POST', `/api/v1/namespaces/${this.namespace}/events`, event).then((saved) => { event.metadata = saved.metadata; }));
  }

  beginDelete(graceSeconds: number | undefined): Promise<Json> {
    const name = this.#pod!.metadata.name;
    const grace = graceSeconds ?? this.#pod!.spec.terminationGracePeriodSeconds ?? 30;
    return this.#enqueue(() => this.#call('DELETE', `/api/v1/namespaces/${this.namespace}/pods/${name}?gracePeriodSeconds=${grace}`));
  }

  async finishDelete(): Promise<void> {
    const name = this.#pod!.metadata.name;
    await this.#enqueue(() => this.#call('DELETE', `/api/v1/namespaces/${this.namespace}/pods/${name}?gracePeriodSeconds=0`));
  }

  async settled(): Promise<void> {
    await this.#queue;
  }

  async proaEvents(): Promise<string[]> {
    const [v1, core] = await Promise.all([
      this.#call('GET', `/apis/events.k8s.io/v1/namespaces/${this.namespace}/events`),
      this.#call('GET', `/api/v1/namespaces/${this.namespace}/events`),
    ]);
    // The server keeps one object and serves it in both groups: one list is enough where it has proa's.
    const fromV1 = proaStory(v1.items ?? []);
    return fromV1.length > 0 ? fromV1 : proaStory(core.items ?? []);
  }

  async stop(): Promise<void> {
    await this.settled();
  }
}
