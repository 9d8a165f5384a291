// check/, `proa check`: what proa would do in this Pod, and why, on stdout. It starts nothing,
// sends no shutdown request (a TCP connect to each HTTP target at most) and changes
// nothing. Exit 0 when proa would work, 1 otherwise with the first blocking problem on
// the last line. What the API answers passes the same boundary as the watch's events
// (kube/decode.ts), and an answer proa cannot read is a finding, never a crash.
// The check runs in the lifecycle's order: identity, endpoints, the API (api.ts), the
// Pod's containers (containers.ts), the shutdown (actions.ts); report.ts shows it.
import { configOf, type Config } from '../cli/cli.ts';
import type { TransportError } from '../kube/client.ts';
import { detectContainer, resolveIdentity } from '../kube/config.ts';
import { probeReady, waitEndpoints } from '../probes/endpoints.ts';
import { Report } from './report.ts';
import { describeOptions, runningProa } from './running.ts';
import { apiFindings } from './api.ts';
import { containerFindings } from './containers.ts';
import { actionFindings } from './actions.ts';

export { render } from './report.ts';

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
  const found = await apiFindings(r, config, useEnv, id, endpoints.length > 0);
  if (!found) return;
  const p = containerFindings(r, config, found.pod, detected, found.version);
  await actionFindings(r, config, found.pod, p);
}
