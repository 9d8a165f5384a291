// pod/: the rules over a Pod, pure: the plan (this module: proa's own container and the
// sidecars to await), the status (status.ts), restarts (restarts.ts), what an exit means
// (verdicts.ts), the recognised sidecars and their actions (known.ts, auto.ts).
//
// Pure decisions over a Pod as kube/decode.ts hands it over: every field here has the
// type it claims. No I/O here: every rule is tested with plain objects (see
// test/pod.test.ts and shared/reference/pods).
//
// Facts these rules rest on:
// - containerStatuses may be absent, shorter than the spec, or in another order: match by name.
// - `ready` is true only while a container runs and its readiness probe passes.
// - Whether a terminated container restarts is restarts.ts' rule (its own restartPolicy
//   and restartPolicyRules, else the Pod's policy); one that will not restart will never be ready.
// - Native sidecars (init containers with restartPolicy Always) run before proa starts and
//   stop only after proa's container ends: await them for readiness, never for exit. The
//   kubelet starts the regular containers once a native sidecar has *started*, not once
//   it is *ready*: by default proa awaits the readiness of every native sidecar that
//   declares a readinessProbe (readiness is what the user asked for); --wait-for and
//   --ignore choose exactly.
import type { ContainerSpec, Pod } from '../shared/pod.ts';
import { podRestartPolicy, restartAfter, type RestartPolicy } from './restarts.ts';

export interface Sidecar {
  name: string;
  /** An init container with restartPolicy Always: awaited for readiness, never for exit. */
  native: boolean;
}

export interface Plan {
  own: string;
  /** Which rule chose `own`, for the log. */
  ownRule: string;
  awaited: Sidecar[];
  restartPolicy: RestartPolicy;
  /** Things worth a warning that do not stop proa. */
  notes: string[];
  /**
   * Awaited sidecars whose own restartPolicy or restartPolicyRules start them again after
   * proa stops them (for the code they will likely exit with): the Job cannot complete.
   * One line each, with the fix; proa warns, `proa check` fails.
   */
  restartTraps: string[];
  /** Awaited sidecars whose readiness says nothing about serving (see `unprobed`). */
  unprobed: string[];
  /** Native sidecars awaited by default, for their readinessProbe (not named in --wait-for). */
  nativeByDefault: string[];
  /**
   * The other containers that run proa (their command, or args without one, runs an
   * executable named proa; or named by --peer), in spec order: application containers,
   * never awaited for exit, coordinated by sidecars/peers.ts. Empty when proa's own container was
   * only guessed.
   */
  peers: string[];
}

/**
 * A spec proa cannot follow (a name it lacks). `fallback` still says whom to wait for
 * on the way out: every regular container but proa's own, so that the Pod ends.
 */
export interface PlanError {
  error: string;
  fallback: Plan;
}

export interface PlanInput {
  container?: { value: string; source: string } | undefined;
  detected?: string | undefined;
  waitFor: string[];
  ignore: string[];
  /** --peer: containers that run proa although the spec cannot show it. */
  peers?: string[];
  /** A kill action configured: a Pod in the host's PID namespace (hostPID) makes that a bad spec. */
  kill?: '--kill' | '--kill-all' | undefined;
  /** The number of --kill-signal: a sidecar a kill action ends exits 128 + N unless it handles it (read only with `kill`). */
  killSignal?: number | undefined;
}

/**
 * Kubernetes reports a container without a readinessProbe ready as soon as it runs
 * (after its startupProbe passes, when it has one), so proa cannot wait for it to
 * serve. A regular sidecar with a startupProbe alone is fine: `ready` waits for it.
 * A native sidecar is `ready` once started unless it has a readinessProbe, so it needs one of the two.
 */
export function unprobed(spec: ContainerSpec | undefined): boolean {
  return !spec?.readinessProbe && !spec?.startupProbe;
}

/**
 * What proa logs, and `proa check` reports, about an `unprobed` sidecar. A container an
 * injector adds (Vault's agent: its injector gives it no probe) cannot be edited by the
 * user: say what they can do instead.
 */
export function unprobedWarning(name: string, pod?: Pod): string {
  const start = `sidecar ${name} has no readinessProbe: Kubernetes calls it ready as soon as it starts, so proa cannot wait for it to serve. `;
  if (name === 'vault-agent' && pod?.metadata?.annotations?.['vault.hashicorp.com/agent-inject'] === 'true') {
    return start + "Vault's injector adds no probe, and its init container (vault-agent-init) renders the secrets before your program " +
      'starts (vault.hashicorp.com/agent-pre-populate, on by default), so --ignore vault-agent is safe; ' +
      'with vault.hashicorp.com/agent-pre-populate-only: "true" there is no agent sidecar to stop at all';
  }
  return start + 'Add a readinessProbe (or a startupProbe plus readiness) to the sidecar';
}

/** Decides proa's own container and the awaited sidecars, or names what the spec lacks. */
export function plan(pod: Pod, input: PlanInput): Plan | PlanError {
  const regular = (pod.spec?.containers ?? []).map((c) => c.name);
  const init = pod.spec?.initContainers ?? [];
  const native = new Set(init.filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const all = new Set([...regular, ...init.map((c) => c.name)]);
  const specs = new Map([...init, ...(pod.spec?.containers ?? [])].map((c) => [c.name, c]));
  const notes: string[] = [];
  const policy = podRestartPolicy(pod.spec?.restartPolicy);
  const runningProa = regular.filter((n) => runsProa(specs.get(n)) || (input.peers ?? []).includes(n));
  const planFor = (own: string, ownRule: string, names: string[], nativeByDefault: string[] = [], peers: string[] = []): Plan => ({
    own, ownRule, restartPolicy: policy, notes,
    awaited: names.map((name) => ({ name, native: native.has(name) })),
    restartTraps: names.filter((n) => !native.has(n) && !peers.includes(n)).flatMap((n) => restartTrap(pod, n, input.kill ? input.killSignal : undefined) ?? []),
    unprobed: names.filter((n) => unprobed(specs.get(n)) && !peers.includes(n)),
    nativeByDefault: nativeByDefault.filter((n) => names.includes(n)),
    peers,
  });
  // On the way out after a spec proa could not follow: every regular container but its
  // own and the other programs wrapped by proa (they end by themselves).
  const everyOther = (own: string | undefined): Plan =>
    planFor(own ?? '', 'fallback', regular.filter((n) => n !== own && !runningProa.includes(n)), [], runningProa.filter((n) => n !== own));
  const detected = input.detected && regular.includes(input.detected) ? input.detected : undefined;
  if (regular.length === 0) return { error: 'the Pod spec has no containers', fallback: everyOther(undefined) };

  const chosen = ownContainer(input, regular, detected, notes);
  if ('error' in chosen) return { error: chosen.error, fallback: everyOther(detected ?? regular[0]) };
  const { own, ownRule } = chosen;

  if (input.kill && pod.spec?.hostPID === true) {
    return {
      error: `${input.kill} with hostPID: true in the Pod spec: this Pod shares the node's PID namespace, so processes all over the node ` +
        `would be signalled; ${input.kill} is refused (the other shutdown actions still run). Drop hostPID, or stop the sidecar through its HTTP endpoint`,
      fallback: everyOther(own),
    };
  }

  const unknown = [...input.waitFor, ...input.ignore, ...(input.peers ?? [])].filter((n) => !all.has(n));
  if (unknown.length > 0) {
    const flag = (n: string): string => (input.waitFor.includes(n) ? '--wait-for' : input.ignore.includes(n) ? '--ignore' : '--peer');
    return {
      error: unknown.map((n) => `${flag(n)}: the Pod has no container "${n}"`).join('; ') +
        `; its containers are ${[...all].join(', ')}`,
      fallback: everyOther(own),
    };
  }

  // Peers only where proa knows which container is its own: a guess could take a peer for itself.
  let peers = runningProa.filter((n) => n !== own);
  if (peers.length > 0 && ownRule === 'first container in the spec') {
    notes.push(`containers ${peers.join(', ')} also run proa, but proa's own container was only guessed (the first in the spec): ` +
      'they are treated as sidecars. Name it with --container, or let proa find it through the termination-log mount (the kubelet makes it)');
    peers = [];
  }

  const { names, nativeByDefault } = awaitedNames(pod, input.waitFor, own, peers, notes);
  return planFor(own, ownRule, names.filter((n) => !input.ignore.includes(n)), nativeByDefault, peers);
}

/** proa's own container: --container (or its variable), else the one the mountinfo names, else the spec's first. */
function ownContainer(input: PlanInput, regular: string[], detected: string | undefined, notes: string[]): { own: string; ownRule: string } | { error: string } {
  if (input.container) {
    if (!regular.includes(input.container.value)) {
      return { error: `${input.container.source}: the Pod has no container "${input.container.value}"; its containers are ${regular.join(', ')}` };
    }
    return { own: input.container.value, ownRule: input.container.source };
  }
  if (detected) return { own: detected, ownRule: '/proc/self/mountinfo' };
  if (input.detected) notes.push(`/proc/self/mountinfo names container "${input.detected}", which the Pod spec does not have`);
  return { own: regular[0]!, ownRule: 'first container in the spec' };
}

/** The containers to await: --wait-for's (less what cannot be awaited), else every other regular one and the probed native sidecars. */
function awaitedNames(pod: Pod, waitFor: string[], own: string, peers: string[], notes: string[]): { names: string[]; nativeByDefault: string[] } {
  const regular = (pod.spec?.containers ?? []).map((c) => c.name);
  const init = pod.spec?.initContainers ?? [];
  if (waitFor.length === 0) {
    const nativeByDefault = init.filter((c) => c.restartPolicy === 'Always' && c.readinessProbe).map((c) => c.name);
    return { names: [...nativeByDefault, ...regular.filter((n) => n !== own && !peers.includes(n))], nativeByDefault };
  }
  const names: string[] = [];
  for (const n of waitFor) {
    if (n === own) notes.push(`--wait-for names proa's own container "${n}"; not awaited`);
    else if (!regular.includes(n) && !init.some((c) => c.name === n && c.restartPolicy === 'Always')) notes.push(`--wait-for names init container "${n}", which completes before proa starts; not awaited`);
    else if (!names.includes(n)) names.push(n);
  }
  return { names, nativeByDefault: [] };
}

/**
 * What a sidecar's own restart fields do once proa has stopped it: it exits 0 when it
 * handles the stop (an HTTP quit endpoint, a signal it catches), 128 + N when a signal it
 * does not handle ends it. Its own policy or a rule that restarts it for one of those
 * codes keeps the Pod from completing (RestartAllContainers: starts the whole Pod again).
 * Only the container's own fields: the Pod's policy is judged where it is logged.
 */
function restartTrap(pod: Pod, name: string, killSignal: number | undefined): string | undefined {
  const codes = killSignal === undefined ? [0] : [0, 128 + killSignal];
  const hits = codes.map((code) => ({ code, d: restartAfter(pod, name, code) })).filter((h) => h.d.own && h.d.action !== 'none');
  const first = hits[0];
  if (!first) return undefined;
  const after = hits.map((h) => `exit code ${h.code}${h.code === 0 ? '' : ` (after --kill-signal, unhandled)`}`).join(' or ');
  const what = first.d.action === 'restart-all'
    ? 'the kubelet restarts every container of the Pod, your program included, and the Job never completes'
    : 'the kubelet starts it again and the Job never completes';
  return `sidecar ${name}: ${first.d.by} restarts it after ${after}, which is how it ends once proa stops it: ${what}. ` +
    `Give it restartPolicy: Never (or a rule that does not match ${hits.map((h) => h.code).join(' or ')}), or leave its restartPolicy unset to follow the Pod's`;
}

/** A container whose command (or, without one, its args) runs an executable named proa. */
function runsProa(spec: ContainerSpec | undefined): boolean {
  const first = spec?.command?.[0] ?? spec?.args?.[0];
  return first !== undefined && /(^|\/)proa$/.test(first);
}
