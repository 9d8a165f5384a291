// Istio's sidecar (pilot-agent starting Envoy): ready on :15021/healthz/ready once Envoy
// is up; POST :15020/quitquitquit makes pilot-agent exit 0 at once (only POST: pilot-agent
// answers other methods 405). SIGTERM: Envoy drains, then exit 0. Arguments as injected
// (`proxy sidecar ...`), ignored.
import { answerAndExit, onTerm, serve } from './http.mjs';

let envoyUp = false;
setTimeout(() => (envoyUp = true), 200);
serve('pilot-agent', '0.0.0.0', 15021, {
  'GET /healthz/ready': (_req, res) => res.writeHead(envoyUp ? 200 : 503).end(),
});
serve('pilot-agent', '127.0.0.1', 15020, {
  'POST /quitquitquit': (_req, res) => answerAndExit(res, 'OK\n'),
});
onTerm((s) => `pilot-agent: received ${s}, draining, then exiting 0`);
