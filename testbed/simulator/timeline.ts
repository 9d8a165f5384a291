// A readable rendering of the simulator's timeline: proa's log and the simulated
// kubelet's and API server's events, interleaved, with times relative to the start.
import type { TimelineEvent } from './simulator.ts';

function fields(obj: Record<string, unknown>, skip: string[]): string {
  return Object.entries(obj).filter(([k, v]) => !skip.includes(k) && v !== undefined)
    .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('');
}

export function render(e: TimelineEvent): string | undefined {
  const t = `+${(e.t / 1000).toFixed(3)}s`.padStart(9);
  const who = (s: string): string => s.padEnd(18);
  switch (e.type) {
    case 'log': {
      if (e.stream === 'stderr') {
        try {
          const l = JSON.parse(String(e.line)) as Record<string, unknown>;
          if (typeof l.msg === 'string' && typeof l.level === 'string') {
            return `${t}  ${who(`${e.container} (proa)`)}${l.level.padEnd(5)} ${l.msg}${fields(l, ['time', 'level', 'msg', 'version'])}`;
          }
        } catch { /* not proa's JSON */ }
      }
      return `${t}  ${who(String(e.container))}${e.line}`;
    }
    case 'pod-created': return `${t}  ${who('kubelet')}Pod ${e.namespace}/${e.pod} created (restartPolicy ${e.restartPolicy})`;
    case 'container-start': return `${t}  ${who('kubelet')}started ${e.container} (pid ${e.pid}): ${(e.argv as string[]).join(' ')}`;
    case 'termination-message': return `${t}  ${who('kubelet')}${e.container}'s termination message: ${String(e.message).trimEnd().replace(/\n/g, ' | ')}`;
    case 'container-exit': return `${t}  ${who('kubelet')}${e.container} exited with code ${e.exitCode}${e.signal ? ` (${e.signal})` : ''}`;
    case 'container-restart': return `${t}  ${who('kubelet')}restarting ${e.container} (restart ${e.restartCount})`;
    case 'probe': return e.ok ? `${t}  ${who('kubelet')}${e.probe} probe of ${e.container} passed (${e.detail})`
      : `${t}  ${who('kubelet')}${e.probe} probe of ${e.container} failed (${e.detail})`;
    case 'status': return `${t}  ${who('api server')}status ${e.container}: ${e.state}${e.restartCount ? ` (restarts ${e.restartCount})` : ''}`;
    case 'phase': return `${t}  ${who('api server')}Pod phase ${e.phase}`;
    case 'restart-all': return `${t}  ${who('kubelet')}${e.container} exited with code ${e.exitCode}, which a RestartAllContainers rule matches: killing every container, no grace period`;
    case 'containers-removed': return `${t}  ${who('kubelet')}every container removed; starting the Pod again from its init containers`;
    case 'signal': return `${t}  ${who('kubelet')}${e.signal} to ${e.container}`;
    case 'deletion': return `${t}  ${who('api server')}Pod deletion requested (grace ${e.graceSeconds}s)`;
    case 'pod-deleted': return `${t}  ${who('api server')}Pod deleted`;
    case 'api-request': {
      const q = e.query as Record<string, string>;
      const rv = q.resourceVersion ? ` from resourceVersion ${q.resourceVersion}` : '';
      return `${t}  ${who('api server')}${e.method} ${e.path}${q.watch ? ` (watch${rv})` : ''} -> ${e.answer}`;
    }
    case 'exec': return `${t}  ${who('kubectl exec')}-c ${e.container} -- ${(e.argv as string[]).join(' ')}`;
    case 'exec-output': return `${t}  ${who(`exec ${e.container}`)}${e.line}`;
    case 'exec-exit': return `${t}  ${who('kubectl exec')}exited with code ${e.exitCode}${e.signal ? ` (${e.signal})` : ''}`;
    case 'unsupported': return `${t}  ${who('simulator')}not supported, ignored: ${e.field}`;
    case 'applied': return `${t}  ${who('kubectl apply')}namespace ${e.namespace}: ${(e.objects as string[]).join(', ')}`;
    case 'job-from-cronjob': return `${t}  ${who('kubectl create')}job ${e.job} --from=cronjob/${e.cronJob}: the CronJob's Job, now rather than at its schedule`;
    case 'other-pod': return `${t}  ${who('api server')}another Pod, ${e.pod} (the Job's next try), not followed`;
    case 'note': return `${t}  ${who('simulator')}${e.note}`;
    case 'sandbox-start': return `${t}  ${who('kubelet')}${e.note}`;
    default: return `${t}  ${who('simulator')}${e.type}${fields(e, ['t', 'type'])}`;
  }
}
