// A fake Kubernetes API server that follows shared/reference/kubernetes-api.md for the
// part proa meets: Pods in namespaces, get, list, single-Pod watches, bearer tokens,
// RBAC denials, graceful deletion. Where it disagrees with the reference, it is wrong.
//
// Faithful on purpose:
// - resourceVersions are opaque strings, one counter across all writes; history is
//   kept until compact(), after which resuming from an older version gets 410 (as an
//   ERROR event in a 200 response by default, or as HTTP 410).
// - a watch without resourceVersion opens with a synthetic ADDED; a watch on a Pod
//   that does not exist answers 200 and sends nothing but bookmarks.
// - BOOKMARK objects carry only metadata.resourceVersion.
// - streams end after timeoutSeconds; lines are split across chunks at random when
//   `splitChunks` is on.
// - boolean query parameters are read like Go's strconv.ParseBool.
// - errors are Status objects; 429/5xx may carry Retry-After.
//
// Hostile on request (the methods under "hostile mode"): answers no real server gives,
// for the tests that hold proa to its limits: raw bytes and events into open watches,
// one endless line, an error whose body never ends, a non-JSON answer to a GET.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { clusterCerts } from './certs.ts';
import { firstMatch } from './events.ts';

export type Json = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  userAgent: string | undefined;
  accept: string | undefined;
  /** Which answer it got: a status code, or 'watch' for an open stream. */
  answer: number | 'watch';
  at: number;
}

export interface ScriptedFailure {
  status: number;
  reason?: string;
  message?: string;
  /** Status.details, as the real server gives them for errors about a named object. */
  details?: { name?: string; kind: string };
  retryAfterSeconds?: number;
}

interface HistoryEntry {
  rv: string;
  seq: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  object: Json;
}

interface Watcher {
  matches: (object: Json) => boolean;
  res: ServerResponse;
  allowBookmarks: boolean;
  frozen: boolean;
}

export interface FakeApiOptions {
  /** How often open watches get a BOOKMARK (the real server: about a minute). */
  bookmarkIntervalMs?: number;
  /** Split every written line at a random byte into separately flushed chunks (true), or into one chunk per byte. */
  splitChunks?: boolean | 'bytes';
  /** How an expired resourceVersion is answered. */
  expired?: 'event' | 'http';
  serviceAccount?: string;
}

const parseBool = (v: string | null): boolean => v !== null && ['1', 't', 'T', 'true', 'True', 'TRUE'].includes(v);

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const reasons: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict',
  410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

/** Discovery, enough for ordinary clients (kubectl, client libraries) to find pods. */
const discovery: Record<string, Json> = {
  '/version': {
    major: '1', minor: '37', gitVersion: 'v1.37.2-fake', gitCommit: 'fake', gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z', goVersion: 'none', compiler: 'none', platform: 'linux/amd64',
  },
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:443' }] },
  '/apis': {
    kind: 'APIGroupList', apiVersion: 'v1',
    groups: [{ name: 'authorization.k8s.io', versions: [{ groupVersion: 'authorization.k8s.io/v1', version: 'v1' }], preferredVersion: { groupVersion: 'authorization.k8s.io/v1', version: 'v1' } }],
  },
  '/api/v1': {
    kind: 'APIResourceList', groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'] },
      { name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] },
    ],
  },
};

/** The field selectors the real server supports on pods, and each one's value in a Pod. */
const podFields: Record<string, (pod: Json) => string | undefined> = {
  'metadata.name': (p) => p.metadata?.name,
  'metadata.namespace': (p) => p.metadata?.namespace,
  'spec.nodeName': (p) => p.spec?.nodeName ?? '',
  'spec.restartPolicy': (p) => p.spec?.restartPolicy,
  'spec.serviceAccountName': (p) => p.spec?.serviceAccountName ?? '',
  'status.phase': (p) => p.status?.phase ?? '',
  'status.podIP': (p) => p.status?.podIP ?? '',
};

/**
 * The objects a list or watch selects: its namespace, `fieldSelector` and
 * `labelSelector` (comma-separated terms, all of which must hold: `=`, `==`, `!=` for
 * fields; those and `in (…)`, `notin (…)`, `key`, `!key` for labels). A string: the
 * selector is not valid, as the server's 400 says.
 */
function selectorOf(namespace: string, url: URL): ((o: Json) => boolean) | string {
  const tests: ((o: Json) => boolean)[] = [(o) => o.metadata?.namespace === namespace];
  for (const term of (url.searchParams.get('fieldSelector') ?? '').split(',').filter((t) => t !== '')) {
    const m = term.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) return `unable to parse requirement: ${term}`;
    const [, path, op, value] = m;
    const field = podFields[path!];
    if (!field) return `field label not supported: ${path}`;
    tests.push((o) => (field(o) === value) === (op !== '!='));
  }
  const labels = url.searchParams.get('labelSelector') ?? '';
  for (const term of labels.match(/([^,(]+(\([^)]*\))?)/g)?.map((t) => t.trim()).filter((t) => t !== '') ?? []) {
    const has = (o: Json, k: string): boolean => o.metadata?.labels?.[k] !== undefined;
    const value = (o: Json, k: string): string | undefined => o.metadata?.labels?.[k];
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/))) {
      const [, k, op, v] = m;
      tests.push((o) => (op === '!=' ? value(o, k!) !== v : value(o, k!) === v));
    } else if ((m = term.match(/^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const [, k, op, list] = m;
      const set = list!.split(',').map((x) => x.trim());
      tests.push((o) => (op === 'in' ? set.includes(value(o, k!) ?? '\0') : !set.includes(value(o, k!) ?? '\0')));
    } else if ((m = term.match(/^(!?)([\w./-]+)$/))) {
      const [, not, k] = m;
      tests.push((o) => has(o, k!) !== (not === '!'));
    } else {
      return `unable to parse requirement: ${term}`;
    }
  }
  return (o) => tests.every((t) => t(o));
}

export class FakeApiServer extends EventEmitter {
  readonly requests: RecordedRequest[] = [];
  readonly ca: string;
  port = 0;
  host = '127.0.0.1';
  readonly #server: Server;
  readonly #events = new Map<string, Json>();
  #eventsForbidden = false;
  #stopped = false;
  readonly #posted: { group: string; event: Json }[] = [];
  #eventsGroupServed = true;
  #eventWriteGroups = new Set(['events.k8s.io', '']);
  readonly #eventFaults: (number | 'slow' | 'never' | 'ok')[] = [];
  readonly #opts: Required<FakeApiOptions>;
  #seq = randomInt(1_000_000, 9_000_000);
  /**
   * History up to this version is gone (410), as outside the watch cache's window. 0: the
   * history is whole, as in a young cache: an old version replays all of it.
   */
  #compactedSeq = 0;
  #pods = new Map<string, Json>();
  #history: HistoryEntry[] = [];
  #tokens = new Set<string>();
  #strangers = new Set<string>();
  #forbidden = new Set<string>();
  #failures: ScriptedFailure[] = [];
  #freezeNext = 0;
  #closeNext = 0;
  #garbageNext = 0;
  #hangingErrors = 0;
  #rawAnswers: { status: number; body: string }[] = [];
  #watchers = new Set<Watcher>();
  #saDirs: string[] = [];
  #saNamespace = 'default';
  token = '';

  constructor(opts: FakeApiOptions = {}) {
    super();
    this.#opts = {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000,
      splitChunks: opts.splitChunks ?? true,
      expired: opts.expired ?? 'event',
      serviceAccount: opts.serviceAccount ?? 'proa',
    };
    const certs = clusterCerts();
    this.ca = certs.ca;
    this.#server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => this.#handle(req, res));
    this.rotateToken();
  }

  static async start(opts: FakeApiOptions = {}, host = '127.0.0.1'): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    s.host = host;
    await new Promise<void>((resolve) => s.#server.listen(0, host, resolve));
    const addr = s.#server.address();
    s.port = typeof addr === 'object' && addr ? addr.port : 0;
    return s;
  }

  /**
   * The API server goes away for `downMs` (every connection reset, new ones refused)
   * and comes back on the same address with the same state, as after a restart behind
   * a stable Service address.
   */
  async restart(downMs: number): Promise<void> {
    await this.#close();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    // Stopped while it was down (the Job ended meanwhile): it stays down.
    if (this.#stopped) return;
    await new Promise<void>((resolve) => this.#server.listen(this.port, this.host, resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#close();
  }

  async #close(): Promise<void> {
    for (const w of this.#watchers) w.res.destroy();
    this.#server.closeAllConnections();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The environment a container gets: service address and credentials directory. */
  clusterEnv(saDir: string): Record<string, string> {
    return {
      KUBERNETES_SERVICE_HOST: this.host,
      KUBERNETES_SERVICE_PORT: String(this.port),
      PROA_SERVICEACCOUNT_DIR: saDir,
    };
  }

  /** Writes token, ca.crt and namespace as the kubelet's projected volume does. */
  writeServiceAccount(dir: string, namespace: string, ca = this.ca): string {
    mkdirSync(dir, { recursive: true });
    if (namespace !== this.#saNamespace) {
      this.#saNamespace = namespace;
      this.rotateToken();
    }
    writeFileSync(join(dir, 'token'), this.token);
    writeFileSync(join(dir, 'ca.crt'), ca);
    writeFileSync(join(dir, 'namespace'), namespace);
    this.#saDirs.push(dir);
    return dir;
  }

  /** The service account the tokens minted from now on name (the Pod's serviceAccountName). */
  useServiceAccount(name: string): void {
    if (name === this.#opts.serviceAccount) return;
    this.#opts.serviceAccount = name;
    this.rotateToken();
  }

  /**
   * A new token replaces the old one, which stops working, as a bound token does when
   * it expires. With `writeFiles` the new one lands in the service-account directories
   * (what the kubelet does); without, the client is left holding an invalid token.
   */
  rotateToken(writeFiles = true): string {
    this.#tokens.clear();
    // Shaped like a bound service-account token: a JWT whose subject names the account.
    const part = (o: Json): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { sub: `system:serviceaccount:${this.#saNamespace}:${this.#opts.serviceAccount}`, exp: Math.floor(Date.now() / 1000) + 3607 };
    this.token = `${part({ alg: 'RS256', kid: 'fake' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
    this.#tokens.add(this.token);
    if (writeFiles) for (const dir of this.#saDirs) writeFileSync(join(dir, 'token'), this.token);
    return this.token;
  }

  /** A token for another service account, `stranger`, that authenticates but has no RBAC at all. */
  strangerToken(): string {
    const token = `stranger-${randomBytes(16).toString('base64url')}`;
    this.#strangers.add(token);
    return token;
  }

  /** Deny these verbs on pods (RBAC not granted yet). */
  forbid(...verbs: string[]): void {
    this.#forbidden = new Set(verbs);
  }

  /** The next watch/get requests answer these statuses, in order. */
  failNext(...failures: ScriptedFailure[]): void {
    this.#failures.push(...failures);
  }

  /** The next `n` watches answer 200 with headers and then nothing, ever: a half-open connection. */
  freezeNextWatches(n = 1): void {
    this.#freezeNext += n;
  }

  /** The next `n` watches answer 200 and end at once, before any event. */
  closeNextWatches(n = 1): void {
    this.#closeNext += n;
  }

  /** The next `n` watches send a line that is not JSON, then keep going. */
  garbageNextWatches(n = 1): void {
    this.#garbageNext += n;
  }

  // --- hostile mode ---------------------------------------------------------------

  /** Writes these bytes, as they are, into every open watch stream. */
  rawToWatches(bytes: string | Buffer): void {
    for (const w of this.#watchers) if (!w.frozen && !w.res.writableEnded) w.res.write(bytes);
  }

  /** A watch event whose object is this JSON text, as it is (deeper than JSON.stringify can go, wrong types). */
  rawEvent(type: string, objectJson: string): void {
    this.rawToWatches(`{"type":${JSON.stringify(type)},"object":${objectJson}}\n`);
  }

  /**
   * One line that never ends, into every open watch: `total` bytes of it in 64 KiB
   * writes that wait for the reader. Resolves with the bytes written when it stops
   * (all written, or the reader hung up).
   */
  async endlessLine(total: number): Promise<number> {
    const piece = Buffer.alloc(64 * 1024, 'a');
    const streams = [...this.#watchers].filter((w) => !w.frozen).map((w) => w.res);
    let written = 0;
    while (written < total && streams.some((r) => !r.destroyed && !r.writableEnded)) {
      const full = streams.filter((r) => !r.destroyed && !r.writableEnded && !r.write(piece));
      written += piece.length;
      if (full.length > 0) await Promise.race(full.map((r) => new Promise((resolve) => { r.once('drain', resolve); r.once('close', resolve); })));
    }
    return written;
  }

  /** The next `n` requests that would fail get an error status whose body never ends. */
  hangErrorBodies(n = 1, status = 500): void {
    this.#hangingErrors += n;
    this.failNext(...Array.from({ length: n }, () => ({ status })));
  }

  /** The next Pod GET or watch is answered with this status and body, whatever they are. */
  rawAnswerNext(status: number, body: string): void {
    this.#rawAnswers.push({ status, body });
  }

  /** Ends every open watch stream cleanly, as the server does at timeoutSeconds. */
  endWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  /** Forgets history: resuming from any version seen so far gets 410. */
  compact(): void {
    this.#compactedSeq = this.#seq;
  }

  get resourceVersion(): string {
    return String(this.#seq);
  }

  /** Creates or replaces a Pod (ADDED or MODIFIED). */
  putPod(input: Json): Json {
    const pod = structuredClone(input);
    const ns = pod.metadata.namespace ?? 'default';
    pod.metadata.namespace = ns;
    pod.metadata.uid ??= `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`;
    pod.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    // The API server computes the QoS class when the Pod is created.
    if (!this.#pods.has(`${ns}/${pod.metadata.name}`)) {
      pod.status ??= {};
      const resources = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c: Json) => c.resources ?? {});
      pod.status.qosClass ??= resources.every((r: Json) => !r.requests && !r.limits) ? 'BestEffort' : 'Burstable';
    }
    const key = `${ns}/${pod.metadata.name}`;
    return this.#write(this.#pods.has(key) ? 'MODIFIED' : 'ADDED', key, pod);
  }

  /** The stored Pod, as it is now. */
  pod(namespace: string, name: string): Json | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }

  /** Applies `change` to the stored Pod and publishes it (MODIFIED) when anything changed. */
  updatePod(namespace: string, name: string, change: (pod: Json) => void): Json {
    const key = `${namespace}/${name}`;
    const current = this.#pods.get(key);
    if (!current) throw new Error(`no pod ${key}`);
    const next = structuredClone(current);
    change(next);
    delete next.metadata.resourceVersion;
    const { resourceVersion: _, ...before } = current.metadata;
    if (JSON.stringify({ ...current, metadata: before }) === JSON.stringify(next)) return current;
    return this.#write('MODIFIED', key, next);
  }

  /** Graceful deletion, first step: deletionTimestamp and grace period set (MODIFIED). */
  beginDelete(namespace: string, name: string, graceSeconds?: number): Json {
    return this.updatePod(namespace, name, (p) => {
      const grace = graceSeconds ?? p.spec?.terminationGracePeriodSeconds ?? 30;
      p.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      p.metadata.deletionGracePeriodSeconds = grace;
    });
  }

  /** Graceful deletion, last step: every container has stopped; DELETED. */
  finishDelete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const pod = this.#pods.get(key);
    if (!pod) return;
    this.#write('DELETED', key, structuredClone(pod));
  }

  #write(type: HistoryEntry['type'], key: string, object: Json): Json {
    this.#seq += randomInt(1, 4);
    const rv = String(this.#seq);
    object.metadata.resourceVersion = rv;
    if (type === 'DELETED') this.#pods.delete(key);
    else this.#pods.set(key, object);
    const entry: HistoryEntry = { rv, seq: this.#seq, type, key, object: structuredClone(object) };
    this.#history.push(entry);
    for (const w of this.#watchers) {
      if (w.matches(entry.object) && !w.frozen) this.#send(w.res, { type, object: entry.object });
    }
    this.emit('write', entry);
    return structuredClone(object);
  }

  #send(res: ServerResponse, event: Json): void {
    if (res.writableEnded || res.destroyed) return;
    const line = Buffer.from(JSON.stringify(event) + '\n', 'utf8');
    const split = this.#opts.splitChunks;
    if (split === false || line.length < 4) {
      res.write(line);
      return;
    }
    // Each piece is its own HTTP chunk. Cuts fall anywhere in the byte stream, inside a
    // UTF-8 sequence too, as a proxy's buffering may cut it; the bytes are never altered.
    if (split === 'bytes') {
      for (let i = 0; i < line.length; i++) res.write(line.subarray(i, i + 1));
      return;
    }
    const cut = randomInt(1, line.length - 1);
    res.write(line.subarray(0, cut));
    res.write(line.subarray(cut));
  }

  #record(req: IncomingMessage, url: URL, answer: number | 'watch'): void {
    const r: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      userAgent: req.headers['user-agent'],
      accept: req.headers.accept,
      answer,
      at: performance.now(),
    };
    this.requests.push(r);
    this.emit('request', r);
  }

  /** The requests about Pods: what proa's watch cost, with its Events (and access reviews) apart. */
  get podRequests(): RecordedRequest[] {
    return this.requests.filter((r) => /\/pods(\/|$)/.test(r.path));
  }

  /** Resolves with the first recorded request (past or future) that matches. */
  waitForRequest(match: (r: RecordedRequest) => boolean, from = 0): Promise<RecordedRequest> {
    return firstMatch(this, 'request', this.requests.slice(from), match);
  }

  #fail(req: IncomingMessage, url: URL, res: ServerResponse, f: ScriptedFailure): void {
    this.#record(req, url, f.status);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (f.retryAfterSeconds !== undefined) headers['Retry-After'] = String(f.retryAfterSeconds);
    res.writeHead(f.status, headers);
    if (this.#hangingErrors > 0 && f.status >= 500) {
      this.#hangingErrors--;
      // The start of a Status object, and then nothing: the body never ends.
      res.write('{"kind":"Status","apiVersion":"v1","status":"Failure","message":"');
      return;
    }
    const body = status(f.status, f.reason ?? reasons[f.status] ?? 'Unknown', f.message ?? `fake failure ${f.status}`);
    if (f.details) body.details = f.details;
    res.end(JSON.stringify(body));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // A client gone mid-answer (proa exiting, a watch cut) is no error for the server.
    req.on('error', () => {});
    res.on('error', () => {});
    const url = new URL(req.url ?? '/', 'https://fake');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const stranger = token !== undefined && this.#strangers.has(token);
    if (!token || (!this.#tokens.has(token) && !stranger)) {
      return this.#fail(req, url, res, { status: 401, message: 'Unauthorized' });
    }
    if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      return this.#accessReview(req, url, res);
    }
    const discovered = req.method === 'GET' ? discovery[url.pathname] : undefined;
    if (discovered) {
      this.#record(req, url, 200);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(discovered));
    }
    const written = url.pathname.match(/^\/(apis\/events\.k8s\.io\/v1|api\/v1)\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/);
    if (written && (req.method === 'POST' || req.method === 'PATCH')) {
      return this.#writeEvent(req, url, res, written[1] === 'api/v1' ? '' : 'events.k8s.io', decodeURIComponent(written[2]!), written[3] && decodeURIComponent(written[3]));
    }
    const ev = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/events$/);
    if (req.method === 'GET' && ev) return this.#listEvents(req, url, res, decodeURIComponent(ev[1]!));
    const m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/);
    if (req.method !== 'GET' || !m) {
      return this.#fail(req, url, res, { status: 404, message: 'the server could not find the requested resource' });
    }
    const namespace = decodeURIComponent(m[1]!);
    const name = m[2] ? decodeURIComponent(m[2]) : undefined;
    const watch = parseBool(url.searchParams.get('watch'));
    const verb = name ? 'get' : watch ? 'watch' : 'list';
    if (this.#forbidden.has(verb) || stranger) {
      const sa = `system:serviceaccount:${namespace}:${stranger ? 'stranger' : this.#opts.serviceAccount}`;
      // As the real server: a list or watch narrowed to one name by fieldSelector is authorized as that name.
      const named = name ?? (url.searchParams.get('fieldSelector') ?? '').match(/^metadata\.name==?([^,]+)$/)?.[1];
      return this.#fail(req, url, res, {
        status: 403,
        message: `pods${named ? ` "${named}"` : ''} is forbidden: User "${sa}" cannot ${verb} resource "pods" in API group "" in the namespace "${namespace}"`,
        details: { ...(named ? { name: named } : {}), kind: 'pods' },
      });
    }
    const scripted = this.#failures.shift();
    if (scripted) return this.#fail(req, url, res, scripted);
    const raw = this.#rawAnswers.shift();
    if (raw) {
      this.#record(req, url, raw.status);
      res.writeHead(raw.status, { 'Content-Type': 'text/html' });
      return void res.end(raw.body);
    }

    if (name) {
      const pod = this.#pods.get(`${namespace}/${name}`);
      if (!pod) return this.#fail(req, url, res, { status: 404, message: `pods "${name}" not found`, details: { name, kind: 'pods' } });
      this.#record(req, url, 200);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(pod));
    }
    const matches = selectorOf(namespace, url);
    if (typeof matches === 'string') return this.#fail(req, url, res, { status: 400, reason: 'BadRequest', message: matches });
    if (!watch) return this.#list(req, url, res, matches);
    this.#watch(req, url, res, matches);
  }

  /** A list, with limit and continue as the real server pages it. */
  #list(req: IncomingMessage, url: URL, res: ServerResponse, matches: (o: Json) => boolean): void {
    const all = [...this.#pods.values()].filter(matches).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    const from = Number(Buffer.from(url.searchParams.get('continue') ?? '', 'base64url').toString() || 0);
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const items = limit > 0 ? all.slice(from, from + limit) : all.slice(from);
    const more = limit > 0 && from + limit < all.length;
    this.#record(req, url, 200);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({
      kind: 'PodList', apiVersion: 'v1',
      metadata: { resourceVersion: this.resourceVersion, ...(more ? { continue: Buffer.from(String(from + limit)).toString('base64url'), remainingItemCount: all.length - from - limit } : {}) },
      items,
    }));
  }

  /**
   * Core v1 Events, as the kubelet's event recorder writes them: one per distinct
   * (object, reason, message), its count raised when it happens again. Listed by
   * namespace with the field selectors the real server takes for events
   * (involvedObject.uid, involvedObject.name, reason, type), `=` and `==`.
   */
  recordEvent(namespace: string, e: { uid: string; name: string; fieldPath?: string; reason: string; message: string; type?: string }): void {
    const key = `${namespace}/${e.uid}/${e.fieldPath ?? ''}/${e.reason}/${e.message}`;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const had = this.#events.get(key);
    if (had) {
      had.count += 1;
      had.lastTimestamp = now;
      return;
    }
    this.#events.set(key, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${e.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { kind: 'Pod', namespace, name: e.name, uid: e.uid, ...(e.fieldPath ? { fieldPath: e.fieldPath } : {}) },
      reason: e.reason, message: e.message, type: e.type ?? 'Warning', source: { component: 'kubelet', host: 'simulated-node' },
      firstTimestamp: now, lastTimestamp: now, count: 1,
    });
  }

  /** Whether listing events is refused (403), as RBAC without `list` on events refuses it. */
  forbidEvents(forbidden: boolean): void {
    this.#eventsForbidden = forbidden;
  }

  #listEvents(req: IncomingMessage, url: URL, res: ServerResponse, namespace: string): void {
    if (this.#eventsForbidden) {
      return this.#fail(req, url, res, { status: 403, message: `events is forbidden: User "system:serviceaccount:${namespace}:${this.#opts.serviceAccount}" cannot list resource "events" in API group "" in the namespace "${namespace}"`, details: { kind: 'events' } });
    }
    const fields: Record<string, (e: Json) => string> = {
      'involvedObject.uid': (e) => e.involvedObject.uid, 'involvedObject.name': (e) => e.involvedObject.name,
      reason: (e) => e.reason, type: (e) => e.type,
    };
    const terms = (url.searchParams.get('fieldSelector') ?? '').split(',').filter((t) => t !== '').map((t) => t.split(/==?/));
    const unknown = terms.find(([k]) => !fields[k!]);
    if (unknown) return this.#fail(req, url, res, { status: 400, message: `"${unknown[0]}" is not a known field selector` });
    const items = [...this.#events.values()].filter((e) => e.metadata.namespace === namespace && terms.every(([k, v]) => fields[k!]!(e) === v));
    this.#record(req, url, 200);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: this.resourceVersion }, items }));
  }

  #watch(req: IncomingMessage, url: URL, res: ServerResponse, matches: (o: Json) => boolean): void {
    const rv = url.searchParams.get('resourceVersion');
    let backlog: HistoryEntry[] = [];
    if (rv && rv !== '0') {
      // Any version the history still covers is valid, one between two writes too; a
      // future one is waited for (the real server's answer: a 200 that stays quiet).
      const seq = Number(rv);
      if (!/^\d+$/.test(rv) || seq <= this.#compactedSeq) {
        const expired = status(410, 'Expired', `too old resource version: ${rv} (${this.resourceVersion})`);
        if (this.#opts.expired === 'http') {
          this.#record(req, url, 410);
          res.writeHead(410, { 'Content-Type': 'application/json' });
          return void res.end(JSON.stringify(expired));
        }
        this.#record(req, url, 'watch');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        this.#send(res, { type: 'ERROR', object: expired });
        return void res.end();
      }
      backlog = this.#history.filter((h) => matches(h.object) && h.seq > seq);
    }
    this.#record(req, url, 'watch');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (this.#closeNext > 0) {
      this.#closeNext--;
      return void res.end();
    }
    if (this.#garbageNext > 0) {
      this.#garbageNext--;
      res.write('<html>502 Bad Gateway</html>\n');
    }
    const frozen = this.#freezeNext > 0;
    if (frozen) this.#freezeNext--;
    const w: Watcher = { matches, res, allowBookmarks: parseBool(url.searchParams.get('allowWatchBookmarks')), frozen };
    this.#watchers.add(w);
    req.socket.setNoDelay(true);
    res.flushHeaders();
    if (frozen) {
      res.on('close', () => this.#watchers.delete(w));
      return;
    }
    if (!rv || rv === '0') {
      for (const pod of this.#pods.values()) if (matches(pod)) this.#send(res, { type: 'ADDED', object: pod });
    } else {
      for (const h of backlog) this.#send(res, { type: h.type, object: h.object });
    }
    const timeoutS = Number(url.searchParams.get('timeoutSeconds') ?? '') || randomInt(1800, 3600);
    const end = setTimeout(() => {
      clearInterval(bookmarks);
      res.end();
    }, timeoutS * 1000);
    const bookmarks = setInterval(() => {
      if (w.allowBookmarks) {
        this.#send(res, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: this.resourceVersion }, spec: { containers: null }, status: {} } });
      }
    }, this.#opts.bookmarkIntervalMs);
    res.on('close', () => {
      clearTimeout(end);
      clearInterval(bookmarks);
      this.#watchers.delete(w);
    });
  }

  /** Whether events.k8s.io/v1 is served (false: 404, as a server without the group). */
  serveEventsGroup(served: boolean): void {
    this.#eventsGroupServed = served;
  }

  /** The groups in which proa may create and patch events ('events.k8s.io', ''), as its Role grants; others 403. */
  grantEventWrites(groups: string[]): void {
    this.#eventWriteGroups = new Set(groups);
  }

  /** The next event writes fail: a status, 'slow' (answered after 5 s) or 'never' (no answer at all); 'ok' answers one as usual. */
  failEventWrites(...faults: (number | 'slow' | 'never' | 'ok')[]): void {
    this.#eventFaults.push(...faults);
  }

  /** proa's Events as stored, in either group, in the order created (a PATCH applied in place). */
  get postedEvents(): readonly { group: string; event: Json }[] {
    return this.#posted;
  }

  #writeEvent(req: IncomingMessage, url: URL, res: ServerResponse, group: string, namespace: string, name: string | undefined): void {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const fault = this.#eventFaults.shift();
      if (fault === 'never') return this.#record(req, url, 0);
      const answer = (): void => this.#answerEvent(req, url, res, group, namespace, name, body);
      if (fault === 'slow') return void setTimeout(answer, 5000);
      if (typeof fault === 'number') return this.#fail(req, url, res, { status: fault, message: `fake failure ${fault}` });
      answer();
    });
  }

  #answerEvent(req: IncomingMessage, url: URL, res: ServerResponse, group: string, namespace: string, name: string | undefined, body: string): void {
    if (group === 'events.k8s.io' && !this.#eventsGroupServed) return this.#fail(req, url, res, { status: 404, message: 'the server could not find the requested resource' });
    const verb = req.method === 'POST' ? 'create' : 'patch';
    if (!this.#eventWriteGroups.has(group)) {
      return this.#fail(req, url, res, { status: 403, message: `events is forbidden: User "system:serviceaccount:${namespace}:${this.#opts.serviceAccount}" cannot ${verb} resource "events" in API group "${group}" in the namespace "${namespace}"`, details: { kind: 'events' } });
    }
    let doc: Json;
    try {
      doc = JSON.parse(body) as Json;
    } catch {
      return this.#fail(req, url, res, { status: 400, message: 'invalid JSON' });
    }
    let stored: Json;
    if (req.method === 'POST') {
      stored = { ...doc, metadata: { ...doc.metadata, namespace, resourceVersion: this.resourceVersion } };
      this.#posted.push({ group, event: stored });
    } else {
      const found = this.#posted.find((p) => p.group === group && p.event.metadata?.name === name && p.event.metadata?.namespace === namespace);
      if (!found) return this.#fail(req, url, res, { status: 404, message: `events "${name}" not found` });
      for (const [k, v] of Object.entries(doc)) found.event[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(found.event[k] ?? {}), ...v } : v;
      stored = found.event;
    }
    this.#record(req, url, req.method === 'POST' ? 201 : 200);
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stored));
  }

  #accessReview(req: IncomingMessage, url: URL, res: ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      let review: Json;
      try {
        review = JSON.parse(body) as Json;
      } catch {
        return this.#fail(req, url, res, { status: 400, message: 'invalid JSON' });
      }
      const attrs = review.spec?.resourceAttributes ?? {};
      const verb = attrs.verb;
      const allowed = attrs.resource === 'pods' ? !this.#forbidden.has(verb)
        : attrs.resource === 'events' && ['create', 'patch'].includes(verb) && this.#eventWriteGroups.has(attrs.group ?? '');
      this.#record(req, url, 201);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ...review, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by RoleBinding "proa"' } : {}) } }));
    });
  }
}
