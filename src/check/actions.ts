// `proa check` and the shutdown: each configured request's target (a TCP connect, no
// request sent), each --kill name's processes and whether the kernel would let proa
// signal them, the recognised sidecars and whether an action reaches them.
import { readFileSync } from 'node:fs';
import type { Config } from '../cli/cli.ts';
import { display, hostOf, isLocalHost, portOf } from '../shared/urls.ts';
import { statusOf, type Pod } from '../shared/pod.ts';
import type { Plan } from '../pod/plan.ts';
import { hasAction, recognise } from '../pod/known.ts';
import { tcpAttempt } from '../probes/endpoints.ts';
import { listProcesses, notPermitted, uidOf } from '../shutdown/kill.ts';
import type { Report } from './report.ts';

export async function actionFindings(r: Report, config: Config, pod: Pod, p: Plan): Promise<void> {
  const urls = [...config.httpGet.map((u) => ['GET', u] as const), ...config.httpPost.map((u) => ['POST', u] as const)];
  // A loopback target that refuses connections while every sidecar that could own it is
  // awaited, probed and ready is almost certainly a wrong port; with an ignored, unprobed
  // or native sidecar about, it may be theirs: a warning.
  const others = [...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...(pod.spec?.containers ?? [])].filter((c) => c.name !== p.own);
  const surely = others.every((c) => c.restartPolicy !== 'Always' && p.awaited.some((s) => s.name === c.name) && !p.unprobed.includes(c.name) && statusOf(pod, c.name, false)?.ready === true);
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
