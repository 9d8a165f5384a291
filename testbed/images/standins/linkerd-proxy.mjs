// Linkerd's proxy: its admin server on LINKERD2_PROXY_ADMIN_LISTEN_ADDR (0.0.0.0:4191)
// answers /ready and /live; POST /shutdown exits 0 only when
// LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED=true (the injector sets it for the annotation
// config.linkerd.io/proxy-admin-shutdown: enabled; off by default since Linkerd 2.16).
import { answerAndExit, onTerm, serve } from './http.mjs';

const [host, port] = (process.env.LINKERD2_PROXY_ADMIN_LISTEN_ADDR ?? '0.0.0.0:4191').split(/:(?=\d+$)/);
const shutdown = process.env.LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED === 'true';
serve('linkerd-proxy', host, Number(port), {
  'GET /ready': (_req, res) => res.writeHead(200).end('ready\n'),
  'GET /live': (_req, res) => res.writeHead(200).end('live\n'),
  'POST /shutdown': (_req, res) => shutdown ? answerAndExit(res, 'shutdown\n') : res.writeHead(404).end('shutdown endpoint is not enabled\n'),
});
onTerm((s) => `linkerd-proxy: received ${s}, exiting 0`);
