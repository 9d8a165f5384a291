// --shutdown-auto, once the spec is seen: the shutdown requests for the recognised
// sidecars (known.ts), and what to say about each one proa could stop but will not:
// the flag to pass, an endpoint the spec shows disabled, a port the spec gets wrong.
import type { Config } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import type { Plan } from './plan.ts';
import type { Pod } from '../shared/pod.ts';
import { hasAction, recognise } from './known.ts';

/** POST targets for the recognised sidecars (regular ones) that no configured action covers. */
export function autoActions(pod: Pod, p: Plan, config: Config, log: Logger): URL[] {
  const configured = config.httpPost.concat(config.httpGet);
  const auto: URL[] = [];
  for (const k of recognise(pod, p.own)) {
    if (k.native || hasAction(k, configured)) continue;
    const who = `sidecar ${k.container} (${k.name})`;
    if (k.url === undefined) {
      log.warn(`${who}: ${k.portProblem ?? 'no port'}, so proa cannot address its shutdown endpoint and adds no action for it; ` +
        'fix the port in the spec, or give an action with --shutdown-http-post', { container: k.container });
    } else if (!config.shutdownAuto) {
      log.warn(`${who} has no shutdown action: proa could stop it with POST ${k.url} (endpoint ${k.endpoint}: ${k.why}); ` +
        `pass --shutdown-auto, or --shutdown-http-post=${k.url}`, { container: k.container, url: k.url, endpoint: k.endpoint });
    } else if (k.endpoint === 'disabled') {
      log.warn(`${who}: its shutdown endpoint is disabled (${k.why}); --shutdown-auto cannot stop it`, { container: k.container });
    } else {
      auto.push(new URL(k.url));
      log[k.endpoint === 'enabled' ? 'info' : 'warn'](`--shutdown-auto: POST ${k.url} will shut down ${who}` +
        (k.endpoint === 'unknown' ? `, though the spec cannot tell whether that endpoint is enabled (${k.why})` : ''), { container: k.container, url: k.url });
    }
  }
  return auto;
}
