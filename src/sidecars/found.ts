// The first sight of the Pod, for the watch's view (watched.ts): the plan, made once
// and kept, and what it sets going: the warnings a spec deserves, the "found the Pod"
// line, the peers' liveness channel (peers.ts), --shutdown-auto's actions and what
// enables each recognised sidecar's shutdown endpoint.
import { killFlag, type Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { maxDurationText } from '../shared/limits.ts';
import { specOf, type Pod } from '../shared/pod.ts';
import { portOf } from '../shared/urls.ts';
import { plan, unprobedWarning, type Plan, type PlanError } from '../pod/plan.ts';
import { gracePeriodMs } from '../pod/status.ts';
import { describeRestart } from '../pod/restarts.ts';
import { autoActions } from '../pod/auto.ts';
import { recognise } from '../pod/known.ts';
import { listen } from './peers.ts';

export interface Found {
  plan: Plan | PlanError;
  /** Shutdown actions added by --shutdown-auto for recognised sidecars. */
  auto: URL[];
  /** What enables each recognised sidecar's shutdown endpoint, by port. */
  fixes: Map<number, string>;
  /** This proa's liveness channel, open while it lives, when the Pod has peers. */
  channel: { close(): void } | undefined;
}

export function foundPod(pod: Pod, config: Config, log: Logger, detected: string | undefined): Found {
  const p = plan(pod, {
    container: config.container, detected, waitFor: config.waitFor, ignore: config.ignore,
    kill: killFlag(config), killSignal: config.killSignal.number, peers: config.peers,
  });
  const grace = gracePeriodMs(pod);
  if (grace.clamped && config.shutdownTimeoutMs === undefined) {
    log.warn(`terminationGracePeriodSeconds ${pod.spec?.terminationGracePeriodSeconds} is longer than proa can wait; ` +
      `the shutdown is bounded by ${maxDurationText} instead`);
  }
  if ('error' in p) return { plan: p, auto: [], fixes: new Map(), channel: undefined };
  for (const note of p.notes) log.warn(note);
  for (const trap of p.restartTraps) log.warn(trap);
  log.info('found the Pod', {
    container: p.own, containerRule: p.ownRule, restartPolicy: p.restartPolicy,
    // Whether the kubelet runs proa's container again, and so keeps the sidecars for a retry (pod/restarts.ts).
    ownRestart: describeRestart(pod.spec?.restartPolicy, specOf(pod, p.own)),
    sidecars: p.awaited.map((s) => s.name),
    nativeSidecars: (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name),
    awaitedNative: p.awaited.filter((s) => s.native).map((s) => s.name),
    ...(p.peers.length > 0 ? { peers: p.peers } : {}),
  });
  const channel = p.peers.length > 0 && pod.metadata?.uid ? listen(pod.metadata.uid, p.own, log) : undefined;
  const auto = autoActions(pod, p, config, log);
  const fixes = new Map<number, string>();
  for (const k of recognise(pod, p.own)) if (k.url && !k.native) fixes.set(portOf(new URL(k.url)), `${k.name}'s shutdown endpoint is enabled by ${k.enable}`);
  for (const name of p.unprobed) {
    log.warn(unprobedWarning(name, pod), { container: name });
  }
  return { plan: p, auto, fixes, channel };
}
