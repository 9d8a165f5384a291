// Which proa `proa check` speaks for: the one running in this container (PID 1, or the
// proa sharing check's mount namespace in a Pod that shares its PID namespace), its
// options read back from /proc, described without credentials.
import { readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { defaultServiceAccountDir, type Config } from '../cli/cli.ts';
import { display } from '../shared/urls.ts';

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
export function runningProa(ownEnv: NodeJS.ProcessEnv): { found?: { pid: number; argv: string[]; env: NodeJS.ProcessEnv }; seen: number[] } {
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

/** A Config as the options that set it, credentials removed: what PID 1's proa was told. */
export function describeOptions(c: Config): string {
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
export function shutdownShape(c: Config): string {
  return [...c.httpGet.map((u) => `GET ${display(u)}`), ...c.httpPost.map((u) => `POST ${display(u)}`), ...c.kill.map((k) => `kill ${k}`),
    ...(c.killAll ? ['kill-all'] : []), `timeout ${c.shutdownTimeoutMs ?? 'grace'}`, ...(c.shutdownAuto ? ['auto'] : []),
    ...c.peers.map((n) => `peer ${n}`)].sort().join(', ');
}
