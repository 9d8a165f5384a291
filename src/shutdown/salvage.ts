// Bad input inside a Pod. A misspelt flag must not leave the Job running forever: exit 2
// alone sends nothing, and the sidecars keep the Pod up. So, inside a Pod (a
// service-account token, or POD_NAME from the downward API), proa still stops what it
// can stop safely, then exits 2 saying what it sent:
// - only the shutdown actions that parsed (cli/cli.ts' salvage), and --shutdown-auto's only
//   if that flag parsed, once the Pod is read;
// - nothing when the bad value says whose sidecars these are (--pod, --namespace,
//   --container) or sits in a PROA_* list that may have split wrongly;
// - nothing as a peer that is not the acting one, nor under a restart policy that will
//   run proa again (OnFailure, Always: each retry would send again);
// - the Pod read once, within a bound: without it (no API access, refused, no answer)
//   proa acts alone, as without API access;
// - outside a Pod, nothing, as before.
import { defaultServiceAccountDir, salvage, type Config } from '../cli/cli.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { Signals } from '../command/supervise.ts';
import { shutDown } from './shutdown.ts';
import { gracePeriodMs, isDeleting } from '../pod/status.ts';
import { plan, type Plan } from '../pod/plan.ts';
import { restartAfter } from '../pod/restarts.ts';
import type { Pod } from '../shared/pod.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Planned } from '../sidecars/view.ts';

/** How long the Pod is waited for before acting alone. */
const podWithinMs = 5_000;

/** Inside a Pod: the kubelet mounted a token, or the downward API named the Pod. */
function insidePod(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.POD_NAME) || existsSync(join(env.PROA_SERVICEACCOUNT_DIR || defaultServiceAccountDir, 'token'));
}

/** What the Pod says of this proa: whether it may send, and what the spec adds. */
async function readPod(config: Config, env: NodeJS.ProcessEnv, log: Logger): Promise<{ refused: string } | { planned?: Planned; note?: string }> {
  const [{ loadClusterAccess, resolveIdentity, detectContainer, NotInCluster }, { ApiClient }, { decodePod }] =
    await Promise.all([import('../kube/config.ts'), import('../kube/client.ts'), import('../kube/decode.ts')]);
  let access;
  try {
    access = loadClusterAccess(env, config.serviceAccountDir);
  } catch (err) {
    if (err instanceof NotInCluster) return { note: `no Kubernetes API access (${err.message}): acting alone` };
    throw err;
  }
  const id = resolveIdentity(config, env);
  const path = `/api/v1/namespaces/${encodeURIComponent(id.namespace.value)}/pods/${encodeURIComponent(id.pod.value)}`;
  const answer = await new ApiClient(access).requestWithin('GET', path, podWithinMs);
  if (!answer) return { note: `the Pod could not be read within ${podWithinMs / 1000}s: acting alone` };
  if (answer.status !== 200) return { note: `the Pod could not be read (${answer.status === 0 ? answer.body : `HTTP ${answer.status}`}): acting alone` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return { note: 'the Pod could not be read (not JSON): acting alone' };
  }
  const pod: Pod = decodePod(parsed).pod;
  const planned = plan(pod, { container: config.container, detected: config.container ? undefined : detectContainer(), waitFor: [], ignore: [], peers: config.peers });
  const p: Plan = 'error' in planned ? planned.fallback : planned;
  // Bad input exits 2: where that code has the kubelet run proa's container again, each retry would send again.
  const again = restartAfter(pod, p.own, 2);
  if (again.action !== 'none' && !isDeleting(pod)) return { refused: `${again.by} has the kubelet run proa again after exit code 2, and each retry would send again` };
  if (p.peers.length > 0) {
    const { acting, earlyBoundMs } = await import('../sidecars/peers.ts');
    const order = (pod.spec?.containers ?? []).map((c) => c.name).filter((n) => n === p.own || p.peers.includes(n));
    const who = await acting({ pod, plan: p, deleted: isDeleting(pod), until: () => Promise.reject(new Error('not watched')) }, order, new AbortController().signal, log, earlyBoundMs);
    if (who !== p.own) return { refused: `proa in container ${who} acts for the other programs of this Pod` };
  }
  let auto: URL[] = [];
  if (config.shutdownAuto) auto = (await import('../pod/auto.ts')).autoActions(pod, p, config, log);
  return { planned: { auto, graceMs: gracePeriodMs(pod).ms, hostPid: pod.spec?.hostPID === true, fixes: new Map(), ports: [] } };
}

/** After a usage error (already printed): the shutdown actions that parsed, where that is safe; one line says what was sent. */
export async function stopAfterUsageError(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (!insidePod(env)) return;
  const s = salvage(argv, env);
  const log = createLogger('config' in s ? s.config.logFormat : 'json', 'config' in s ? s.config.logLevel : 'info');
  if ('refused' in s) {
    log.error(`bad input inside a Pod: nothing was sent to the sidecars, since ${s.refused}; fix the input above (exit 2)`);
    return;
  }
  const config = s.config;
  const pod: { refused: string } | { planned?: Planned; note?: string } = await readPod(config, env, log)
    .catch((err: unknown) => ({ note: `the Pod could not be read (${err instanceof Error ? err.message : String(err)}): acting alone` }));
  if ('refused' in pod) {
    log.error(`bad input inside a Pod: nothing was sent to the sidecars, since ${pod.refused}; fix the input above (exit 2)`);
    return;
  }
  if (pod.note) log.info(pod.note);
  const outcomes = await shutDown({ config, log, signals: new Signals(log), sidecars: undefined, planned: pod.planned });
  const sent = outcomes.map((o) => `${o.action} (${o.done ? 'done' : o.error ?? 'not done'})`);
  log.error(`bad input inside a Pod: the sidecars were asked to stop with what parsed: ${sent.length > 0 ? sent.join('; ') : 'nothing (no shutdown action parsed)'}; ` +
    'fix the input above (exit 2)', { sent });
}
