// `proa check`: what proa would do in this Pod, and why, on stdout. It starts nothing,
// sends no shutdown request (a TCP connect to each HTTP target at most) and changes
// nothing. Exit 0 when proa would work, 1 otherwise with the first blocking problem on
// the last line. What the API answers passes the same boundary as the watch's events
// (kube/decode.ts), and an answer proa cannot read is a finding, never a crash.
import { readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { configOf, killFlag, type Config } from '../cli/cli.ts';
import { defaultServiceAccountDir } from '../cli/options.ts';
import { listProcesses, notPermitted, uidOf } from '../shutdown/kill.ts';
import { hasAction, recognise } from '../pod/known.ts';
import { describe, finishedForGood } from '../pod/status.ts';
import { plan, unprobedWarning } from '../pod/plan.ts';
import { specOf, statusOf } from '../shared/pod.ts';
import { describeTarget, playable, probeTarget } from '../probes/target.ts';
import { terminationLogPath } from '../report/termination.ts';
import { signalledExits } from '../pod/verdicts.ts';
import { display, hostOf, isLocalHost, portOf } from '../shared/urls.ts';
import { escapeControls } from '../shared/log.ts';
import { ApiClient, isTlsFailure, type TransportError } from '../kube/client.ts';
import { detectContainer, loadClusterAccess, NotInCluster, resolveIdentity } from '../kube/config.ts';
import { decodePod } from '../kube/decode.ts';
import { rbacYaml } from '../kube/rbac.ts';
import { probeReady, tcpAttempt, waitEndpoints } from '../probes/endpoints.ts';

type Status = 'ok' | 'info' | 'warn' | 'fail';
interface Finding { section: string; status: Status; text: string }

class Report {
  readonly findings: Finding[] = [];
  /**
   * A finding: `text` is one line whatever it quotes (the API's strings may hold a newline
   * or an escape sequence that would forge a line or hide the rest of the terminal), so
   * control characters are escaped as in the logs; `block`, proa's own multi-line text
   * (a Role to apply), follows it line by line.
   */
  add(section: string, status: Status, text: string, block?: string): void {
    const lines = [escapeControls(text), ...(block?.split('\n').map(escapeControls) ?? [])];
    this.findings.push({ section, status, text: lines.join('\n') });
  }
  get blocking(): Finding | undefined {
    return this.findings.find((f) => f.status === 'fail');
  }
}

/** The proa running at `pid`, if that is one: its arguments and environment. */
function proaAt(pid: number, self: Stats): { pid: number; argv: string[]; env: NodeJS.ProcessEnv } | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => i < all.length - 1 || a !== '');
    let same = false;
    try {
      const exe = statSync(`/proc/${pid}/exe`);
      same = exe.ino === self.ino && exe.dev === self.dev;
    } catch {
      // Another user's process: its argv[0] alone.
    }
    if (!same && !/(^|\/)proa[^/]*$/.test(argv[0] ?? '')) return undefined;
    // proa's own resolver child is proa's binary too, and no proa to check.
    const env = Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    if (env.__PROA_RESOLVER !== undefined || argv[1] === 'check') return undefined;
    return { pid, argv: argv.slice(1), env };
  } catch {
    return undefined;
  }
}

const mountNamespace = (pid: number | 'self'): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
};

/**
 * Whether a running proa's environment could be this container's: `kubectl exec` starts
 * check with the container's own environment, so where check has one of these set and
 * the other proa holds another value (or none), that proa belongs to another Pod, or to
 * a node's host namespaces where any process is in sight.
 */
const podIdentity = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'POD_NAME', 'POD_NAMESPACE', 'HOSTNAME'] as const;
const samePod = (theirs: NodeJS.ProcessEnv, ours: NodeJS.ProcessEnv): boolean =>
  podIdentity.every((k) => ours[k] === undefined || theirs[k] === ours[k]);

/**
 * The running proa whose options matter: PID 1 when it is proa (the usual container);
 * else, where the Pod shares its PID namespace (`kubectl exec -c NAME` joins it, and
 * PID 1 is the Pod's pause), the proa of this container, which shares check's mount
 * namespace; else the only proa in sight. undefined, with the PIDs in sight, when none
 * can be told.
 */
function runningProa(ownEnv: NodeJS.ProcessEnv): { found?: { pid: number; argv: string[]; env: NodeJS.ProcessEnv }; seen: number[] } {
  let self: Stats;
  try {
    self = statSync('/proc/self/exe');
  } catch {
    return { seen: [] };
  }
  const one = proaAt(1, self);
  if (one && samePod(one.env, ownEnv)) return { found: one, seen: [1] };
  const all: { pid: number; argv: string[]; env: NodeJS.ProcessEnv }[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!/^\d+$/.test(entry) || pid === process.pid || pid === process.ppid) continue;
      const p = proaAt(pid, self);
      if (p) all.push(p);
    }
  } catch {
    return { seen: [] };
  }
  const own = mountNamespace('self');
  const ours = all.filter((p) => samePod(p.env, ownEnv));
  const mine = ours.filter((p) => own !== undefined && mountNamespace(p.pid) === own);
  const found = mine.length === 1 ? mine[0] : ours.length === 1 ? ours[0] : undefined;
  return { ...(found ? { found } : {}), seen: ours.map((p) => p.pid) };
}

/** A body as JSON, or undefined when it is not JSON. */
function json(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

const field = (v: unknown, key: string): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined);

/** A Config as the options that set it, credentials removed: what PID 1's proa was told. */
function describeOptions(c: Config): string {
  const parts = [
    ...c.httpGet.map((u) => `--shutdown-http-get ${display(u)}`),
    ...c.httpPost.map((u) => `--shutdown-http-post ${display(u)}`),
    ...c.kill.map((k) => `--kill ${k}`),
    ...(c.killAll ? ['--kill-all'] : []),
    ...(c.killAll || c.kill.length > 0 ? [`--kill-signal ${c.killSignal.name}`] : []),
    ...(c.shutdownAuto ? ['--shutdown-auto'] : []),
    ...(c.shutdownOnFailure ? ['--shutdown-on-failure'] : []),
    ...(c.shutdownTimeoutMs !== undefined ? [`--shutdown-timeout ${c.shutdownTimeoutMs}ms`] : []),
    ...(c.readyTimeoutMs !== undefined ? [`--ready-timeout ${c.readyTimeoutMs}ms`] : []),
    ...c.waitFor.map((n) => `--wait-for ${n}`),
    ...c.ignore.map((n) => `--ignore ${n}`),
    ...(c.container ? [`--container ${c.container.value}`] : []),
    ...(c.pod ? [`--pod ${c.pod.value}`] : []),
    ...(c.namespace ? [`--namespace ${c.namespace.value}`] : []),
    ...(c.noWait ? ['--no-wait'] : []),
    ...(c.serviceAccountDir !== defaultServiceAccountDir ? [`PROA_SERVICEACCOUNT_DIR=${c.serviceAccountDir}`] : []),
  ];
  return parts.length > 0 ? parts.join(' ') : 'no options';
}

/** What a proa's options say of the shutdown it would run for all, as text to compare. */
function shutdownShape(c: Config): string {
  return [...c.httpGet.map((u) => `GET ${display(u)}`), ...c.httpPost.map((u) => `POST ${display(u)}`), ...c.kill.map((k) => `kill ${k}`),
    ...(c.killAll ? ['kill-all'] : []), `timeout ${c.shutdownTimeoutMs ?? 'grace'}`, ...(c.shutdownAuto ? ['auto'] : []),
    ...c.peers.map((n) => `peer ${n}`)].sort().join(', ');
}

/** May proa signal this process: the same uid, or CAP_KILL. */
function maySignal(pid: number): boolean {
  try {
    const theirs = uidOf(pid, '/proc');
    if (theirs !== undefined && theirs === uidOf('self', '/proc')) return true;
    const caps = BigInt(`0x${readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s+([0-9a-f]+)/m)?.[1] ?? '0'}`);
    return (caps & (1n << 5n)) !== 0n;
  } catch {
    return false;
  }
}

export async function check(own: Config, bare: boolean, env: NodeJS.ProcessEnv): Promise<{ report: Report; source: string }> {
  const r = new Report();
  const running = bare ? runningProa(env) : { seen: [] };
  const pid1 = running.found;
  const pid1Config = pid1 ? configOf(pid1.argv, { ...pid1.env }) : undefined;
  const config = pid1Config ?? own;
  const useEnv = pid1Config ? { ...pid1!.env } : env;
  const source = pid1Config ? `options and environment of PID ${pid1!.pid} (${describeOptions(pid1Config)})`
    : !bare ? 'its own options and environment'
      : running.seen.length > 1 ? `its own options and environment (proa runs as PIDs ${running.seen.join(', ')}, none in this container's mount namespace: pass the options to check)`
        : 'its own options and environment (no running proa in sight)';
  try {
    await examine(r, config, useEnv);
  } catch (err) {
    // A failure no finding foresaw (the API gone mid-check): one more finding, not a crash.
    const e = err as Partial<TransportError>;
    r.add('api', 'fail', `the check could not finish: ${e.code ? `${e.code} (${e.message})` : e instanceof Error ? e.message : String(err)}`);
  }
  return { report: r, source };
}

async function examine(r: Report, config: Config, useEnv: NodeJS.ProcessEnv): Promise<void> {
  const id = resolveIdentity(config, useEnv);
  const detected = config.container ? undefined : detectContainer();
  const from = (s: string): string => (s.startsWith('no ') ? s : `from ${s}`);
  r.add('identity', 'ok', `Pod ${id.pod.value} (${from(id.pod.source)}), namespace ${id.namespace.value} (${from(id.namespace.source)})`);
  if (id.pod.source === 'hostname' && id.pod.value.length === 63) {
    r.add('identity', 'warn', 'the Pod name comes from a 63-character hostname, where the kubelet cuts longer names: pass POD_NAME through the downward API');
  }

  const endpoints = waitEndpoints(config);
  for (const ep of endpoints) {
    const why = await probeReady(ep);
    r.add('endpoints', why ? 'warn' : 'ok', `${ep.name}: ${why ? `not ready now (${why}); proa would wait for it` : 'ready'}`);
  }
  let access;
  try {
    access = loadClusterAccess(useEnv, config.serviceAccountDir);
  } catch (err) {
    if (!(err instanceof NotInCluster)) throw err;
    if (endpoints.length > 0) {
      r.add('mode', 'warn', `no Kubernetes API access (${err.message}): proa would judge the sidecars by their endpoints alone ` +
        '(ready when they answer; exited when they refuse connections); --shutdown-auto and the Pod\'s spec are not available');
      return;
    }
    r.add('api', 'fail', `cannot use the Kubernetes API: ${err.message}; without it, give the sidecars' endpoints (--wait-http URL, --wait-tcp HOST:PORT)`);
    return;
  }
  // With endpoints, what would stop the watch makes proa fall back to them: a warning.
  const blocked = (section: string, text: string, block?: string): void => {
    if (endpoints.length === 0) return r.add(section, 'fail', text, block);
    r.add(section, 'warn', text, block);
    r.add('mode', 'warn', 'proa would fall back to the endpoints alone: ready when they answer, exited when they refuse connections');
  };
  r.add('mode', 'info', endpoints.length > 0 ? 'the watch and the endpoints: the command would start when both agree; ' +
    'if the API refuses the Pod or cannot be reached for 10 s, proa falls back to the endpoints alone' : 'the watch on this Pod');
  const client = new ApiClient(access);
  const where = `https://${access.host}:${access.port}`;
  let version;
  try {
    version = await client.request('GET', '/version');
  } catch (err) {
    const e = err as TransportError;
    const tls = isTlsFailure(e.code);
    blocked('api', tls ? `${where}: TLS not verified against ${config.serviceAccountDir}/ca.crt: ${e.code} (${e.message})` : `${where}: cannot reach the API server: ${e.message}`);
    return;
  }
  if (version.status === 401) {
    blocked('api', `${where}: TLS verified; the service-account token was rejected (401)`);
    return;
  }
  const answer = version.status === 200 ? json(version.body) : undefined;
  const text = (key: string): string | undefined => (typeof field(answer, key) === 'string' ? (field(answer, key) as string).slice(0, 64) : undefined);
  const v = { gitVersion: text('gitVersion'), major: text('major'), minor: text('minor') };
  r.add('api', 'ok', `${where}: TLS verified against ca.crt; token accepted; Kubernetes ${v.gitVersion ?? `(version not readable: HTTP ${version.status}${version.status === 200 ? ', not a version document' : ''})`}`);

  const account = client.serviceAccount() ?? `${id.namespace.value}/(this Pod's service account)`;
  const denied: string[] = [];
  for (const verb of ['get', 'list', 'watch']) {
    const review = await client.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: id.namespace.value, verb, resource: 'pods' } },
    });
    const allowed = review.status === 201 && field(field(json(review.body), 'status'), 'allowed') === true;
    if (!allowed) denied.push(verb);
  }
  if (denied.length > 0) {
    blocked('rbac', `service account ${account} may not ${denied.join(', ')} pods in namespace ${id.namespace.value}; apply:`, rbacYaml(client.serviceAccount(), id.namespace.value));
    return;
  }
  r.add('rbac', 'ok', `service account ${account} may get, list and watch pods in namespace ${id.namespace.value}`);
  if (config.events) {
    const review = await client.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: id.namespace.value, verb: 'create', group: 'events.k8s.io', resource: 'events' } },
    });
    const allowed = review.status === 201 && field(field(json(review.body), 'status'), 'allowed') === true;
    r.add('rbac', allowed ? 'ok' : 'info', allowed ? "proa's steps will be posted as Events on the Pod (kubectl describe pod)"
      : 'no Events will be posted (optional): the Role lacks {apiGroups: ["events.k8s.io", ""], resources: ["events"], verbs: ["create", "patch"]}');
  } else r.add('rbac', 'info', 'no Events will be posted (--events off)');
  const log = terminationLogPath();
  r.add('pod', 'info', log ? `at exit, proa writes its summary to ${log}, the termination message kubectl describe pod shows: its exit code and the program's, ` +
    'how long the sidecars took to be ready and by whom, each shutdown action and its answer, how long they took to stop or which did not, the first error'
    : 'no termination log is mounted here (not in a Pod?): no termination message');

  const got = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(id.namespace.value)}/pods/${encodeURIComponent(id.pod.value)}`);
  if (got.status !== 200) {
    r.add('pod', 'fail', `Pod ${id.pod.value} not found in namespace ${id.namespace.value} (${got.status}): name from ${id.pod.source}, namespace from ${id.namespace.source}`);
    return;
  }
  if (got.cut) {
    r.add('pod', 'fail', `the API's answer for Pod ${id.pod.value} could not be read: ${got.cut}`);
    return;
  }
  const body = json(got.body);
  if (body === undefined) {
    r.add('pod', 'fail', `the API's answer for Pod ${id.pod.value} is not JSON (${got.body.length} bytes): a proxy's page in front of the API server?`);
    return;
  }
  const { pod, problems } = decodePod(body);
  for (const problem of problems) r.add('pod', 'warn', `a field of the Pod proa cannot read, taken as unknown: ${problem}`);
  const planned = plan(pod, { container: config.container, detected, waitFor: config.waitFor, ignore: config.ignore, kill: killFlag(config), killSignal: config.killSignal.number, peers: config.peers });
  // A spec proa cannot follow is one problem; the rest is still checked, against the
  // plan proa would then fall back to (every regular container but its own).
  if ('error' in planned) r.add('pod', 'fail', planned.error);
  const p = 'error' in planned ? planned.fallback : planned;
  const awaited = new Map(p.awaited.map((s) => [s.name, s]));
  const why = (name: string, native: boolean): string => name === p.own ? `proa's own container (${p.ownRule})`
    : awaited.has(name) ? (config.waitFor.length > 0 ? 'awaited (--wait-for)' : native ? 'awaited (native sidecar with a readinessProbe: its readiness)' : 'awaited (regular container)')
      : config.ignore.includes(name) ? 'not awaited (--ignore)' : native ? 'not awaited (native sidecar without a readinessProbe: the kubelet starts it first)' : 'not awaited';
  // An awaited container that is not ready yet is what proa would wait for: a warning, not a failure.
  const status = (name: string, native: boolean): Status => (awaited.has(name) && statusOf(pod, name, native)?.ready !== true ? 'warn' : 'ok');
  const waits = (name: string, native: boolean): string => (status(name, native) === 'warn' ? '; proa would wait for it' : '');
  for (const c of pod.spec?.initContainers ?? []) {
    const native = c.restartPolicy === 'Always';
    r.add('pod', native ? status(c.name, true) : 'ok', `init container ${c.name}: ${describe(statusOf(pod, c.name, true))} - ${native ? why(c.name, true) + waits(c.name, true) : 'runs to completion before proa'}`);
  }
  for (const c of pod.spec?.containers ?? []) r.add('pod', status(c.name, false), `container ${c.name}: ${describe(statusOf(pod, c.name, false))} - ${why(c.name, false)}${waits(c.name, false)}`);
  // The same rule, in pod.ts, as the warning proa logs when it runs.
  for (const name of p.unprobed) {
    r.add('pod', 'warn', unprobedWarning(name, pod));
  }
  // The same choice as prober.ts makes when proa runs.
  for (const s of p.awaited.filter((s) => !p.peers.includes(s.name))) {
    if (config.readyBy === 'kubelet') {
      r.add('pod', 'info', `sidecar ${s.name}: ready when the kubelet says so (--ready-by kubelet)`);
      continue;
    }
    const playing = playable(specOf(pod, s.name));
    const target = 'why' in playing ? playing : probeTarget(pod, s.name, playing.spec);
    r.add('pod', 'info', 'why' in target ? `sidecar ${s.name}: readiness by the kubelet only (${target.why})`
      : `sidecar ${s.name}: proa probes its readiness too (${describeTarget(target)}), and starts the program when that passes or the kubelet says ready, whichever comes first`);
  }
  if (p.peers.length > 0) {
    const order = (pod.spec?.containers ?? []).map((c) => c.name).filter((n) => n === p.own || p.peers.includes(n));
    const acting = order.find((n) => n === p.own || !finishedForGood(pod, n));
    r.add('peers', 'info', `${p.peers.join(', ')} also run proa: the sidecars are stopped once, after the last program, by the first ` +
      `of ${order.join(', ')} whose program has not finished for good (now: ${acting === p.own ? 'this proa' : acting})`);
    // The acting proa's own actions and bounds are used: peers that differ may surprise.
    const mine = shutdownShape(config);
    for (const name of p.peers) {
      const spec = (pod.spec?.containers ?? []).find((c) => c.name === name);
      const argv = spec?.command ? [...spec.command, ...(spec.args ?? [])] : spec?.args ?? [];
      const env = Object.fromEntries((spec?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
      const theirs = argv.length > 0 ? configOf(argv.slice(1), env) : undefined;
      if (!theirs) r.add('peers', 'info', `peer ${name}: its options are not in its spec (an image's entrypoint?): make sure they match this proa's`);
      else if (shutdownShape(theirs) !== mine) {
        r.add('peers', 'warn', `peer ${name} has other shutdown actions, bounds or peers than this proa (${shutdownShape(theirs)} against ${mine}): ` +
          'whichever proa acts for all uses its own; give every peer the same');
      }
    }
  }
  if (p.restartPolicy === 'OnFailure') {
    r.add('pod', 'warn', 'restartPolicy OnFailure: a failed command keeps the sidecars up for the retry, and a sidecar that exited 0 is not restarted for it; prefer Never with the Job\'s backoffLimit');
  }
  // The same rules as proa's start-up warnings (pod.ts) and its words at a sidecar's exit (verdicts.ts).
  for (const trap of p.restartTraps) r.add('pod', 'fail', trap);
  const bySignal = killFlag(config) ? (config.killSignal.name === 'SIGTERM' ? 'SIGTERM' : 'other') : undefined;
  for (const note of signalledExits(pod, p, bySignal)) r.add('shutdown', 'warn', note);
  const [major, minor] = [Number(v.major), Number(String(v.minor).replace(/\D.*/, ''))];
  if (p.awaited.some((s) => !s.native) && (major > 1 || (major === 1 && minor >= 29))) {
    r.add('pod', 'info', `advice: this cluster (${v.gitVersion}) supports native sidecars (init containers with restartPolicy: Always), which the kubelet starts first and stops last without proa`);
  }

  const urls = [...config.httpGet.map((u) => ['GET', u] as const), ...config.httpPost.map((u) => ['POST', u] as const)];
  // A loopback target that refuses connections while every sidecar that could own it is
  // awaited, probed and ready is almost certainly a wrong port; with an ignored, unprobed
  // or native sidecar about, it may be theirs: a warning.
  const others = [...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...(pod.spec?.containers ?? [])].filter((c) => c.name !== p.own);
  const surely = others.every((c) => c.restartPolicy !== 'Always' && awaited.has(c.name) && !p.unprobed.includes(c.name) && statusOf(pod, c.name, false)?.ready === true);
  const ports = [...new Set(others.flatMap((c) => c.ports ?? []))].sort((a, b) => a - b);
  for (const [method, u] of urls) {
    const closed = await tcpAttempt(hostOf(u), portOf(u), 1000);
    const wrong = closed === 'ECONNREFUSED' && isLocalHost(u.hostname) && !ports.includes(portOf(u));
    const named = ports.length > 0 ? `; the Pod's containers declare or probe ${ports.join(', ')}` : '';
    r.add('shutdown', !closed ? 'ok' : wrong && surely ? 'fail' : 'warn', `${method} ${display(u)}: ${u.hostname}:${portOf(u)} ` +
      (!closed ? 'accepting connections' : wrong && surely ? `refuses connections while every sidecar is ready: a wrong port?${named}`
        : `not accepting connections now (${closed})${wrong ? named : ''}`));
  }
  if (config.kill.length > 0 || config.killAll) {
    const procs = listProcesses();
    for (const name of config.kill) {
      const found = procs.filter((x) => x.names.includes(name) && x.pid !== process.pid);
      if (found.length === 0) r.add('shutdown', 'warn', `--kill ${name}: no such process visible (needs shareProcessNamespace: true, and the sidecar running)`);
      else {
        const barred = found.filter((x) => !maySignal(x.pid));
        // No other action could stop it, and the kernel would refuse this one: proa would not work here.
        const only = urls.length === 0 && !config.shutdownAuto;
        r.add('shutdown', barred.length === 0 ? 'ok' : only ? 'fail' : 'warn', `--kill ${name}: pid ${found.map((x) => x.pid).join(', ')}` +
          (barred.length === 0 ? ', may be signalled' : `: not permitted to signal pid ${barred[0]!.pid}: ${notPermitted(barred[0]!.pid)}`));
      }
    }
  }
  const configured = [...config.httpGet, ...config.httpPost];
  for (const k of recognise(pod, p.own)) {
    if (k.native) continue;
    const covered = hasAction(k, configured);
    const auto = config.shutdownAuto && k.endpoint !== 'disabled';
    if (k.url === undefined) {
      r.add('sidecars', 'warn', `${k.container} is ${k.name}: ${k.portProblem ?? 'no port'}; proa cannot address its shutdown endpoint`);
      continue;
    }
    r.add('sidecars', covered || auto ? 'ok' : 'warn', `${k.container} is ${k.name}: POST ${k.url}, endpoint ${k.endpoint} (${k.why}); ` +
      (covered ? 'a configured action targets it' : auto ? 'added by --shutdown-auto' : 'no action targets it: pass --shutdown-auto, or add the action'));
  }
  if (urls.length === 0 && config.kill.length === 0 && !config.killAll && !config.shutdownAuto && p.awaited.some((s) => !s.native)) {
    r.add('shutdown', 'warn', 'no shutdown action is configured: the awaited sidecars must stop by themselves, or the Pod will not complete');
  }
  return;
}

export function render(report: Report, source: string, json: boolean): string {
  const blocking = report.blocking;
  const problems = report.findings.filter((f) => f.status === 'fail').map((f) => f.text);
  if (json) return JSON.stringify({ ok: !blocking, source, findings: report.findings, ...(blocking ? { blocking: blocking.text, problems } : {}) }, null, 2) + '\n';
  const lines = [`proa check, with ${escapeControls(source)}`];
  let section = '';
  for (const f of report.findings) {
    if (f.section !== section) lines.push((section = f.section));
    const [first, ...rest] = f.text.split('\n');
    lines.push(`  ${f.status.padEnd(5)} ${first}`, ...rest.map((l) => `        ${l}`));
  }
  const warnings = report.findings.filter((f) => f.status === 'warn').length;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''} above: ${problems.length} in all)` : '';
  lines.push(blocking ? `blocking: ${blocking.text.split('\n')[0]}${more}` : `proa would work here${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''} above)` : ''}`);
  return lines.join('\n') + '\n';
}
