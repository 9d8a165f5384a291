// `proa check` and the Pod's spec, read by the same rules proa follows when it runs
// (pod/): whose container is whose, which sidecars are awaited and how their readiness
// is known, the peers, the restart rules that would keep the Job from completing.
import { configOf, killFlag, type Config } from '../cli/cli.ts';
import { specOf, statusOf, type Pod } from '../shared/pod.ts';
import { plan, unprobedWarning, type Plan } from '../pod/plan.ts';
import { describe, finishedForGood } from '../pod/status.ts';
import { signalledExits } from '../pod/verdicts.ts';
import { describeTarget, playable, probeTarget } from '../probes/target.ts';
import type { Version } from './api.ts';
import type { Report, Status } from './report.ts';
import { shutdownShape } from './running.ts';

/** The plan proa would follow here (its fallback when the spec cannot be followed), and the findings on the way. */
export function containerFindings(r: Report, config: Config, pod: Pod, detected: string | undefined, v: Version): Plan {
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
  // The same rule, in pod/plan.ts, as the warning proa logs when it runs.
  for (const name of p.unprobed) {
    r.add('pod', 'warn', unprobedWarning(name, pod));
  }
  // The same choice as probes/prober.ts makes when proa runs.
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
  if (p.peers.length > 0) peerFindings(r, config, pod, p);
  if (p.restartPolicy === 'OnFailure') {
    r.add('pod', 'warn', 'restartPolicy OnFailure: a failed command keeps the sidecars up for the retry, and a sidecar that exited 0 is not restarted for it; prefer Never with the Job\'s backoffLimit');
  }
  // The same rules as proa's start-up warnings (pod/plan.ts) and its words at a sidecar's exit (pod/verdicts.ts).
  for (const trap of p.restartTraps) r.add('pod', 'fail', trap);
  const bySignal = killFlag(config) ? (config.killSignal.name === 'SIGTERM' ? 'SIGTERM' : 'other') : undefined;
  for (const note of signalledExits(pod, p, bySignal)) r.add('shutdown', 'warn', note);
  const [major, minor] = [Number(v.major), Number(String(v.minor).replace(/\D.*/, ''))];
  if (p.awaited.some((s) => !s.native) && (major > 1 || (major === 1 && minor >= 29))) {
    r.add('pod', 'info', `advice: this cluster (${v.gitVersion}) supports native sidecars (init containers with restartPolicy: Always), which the kubelet starts first and stops last without proa`);
  }

  return p;
}

/** Several programs wrapped by proa: who acts for all, and peers whose shutdown differs. */
function peerFindings(r: Report, config: Config, pod: Pod, p: Plan): void {
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
