// The Cloud SQL Auth Proxy v2, by its flags: the database port (--port, 5432) for each
// instance; with --health-check, /startup, /readiness and /liveness on
// --http-address:--http-port (localhost:9090); with --quitquitquit, POST /quitquitquit on
// localhost:--admin-port (9091) exits 0. SIGTERM exits 143, or 0 with --exit-zero-on-sigterm.
import { createServer } from 'node:net';
import { answerAndExit, onTerm, serve } from './http.mjs';

const args = process.argv.slice(2);
const flags = new Map();
const instances = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (!a.startsWith('-')) { instances.push(a); continue; }
  const [name, inline] = a.replace(/^--?/, '').split(/=(.*)/s);
  const boolean = ['quitquitquit', 'health-check', 'exit-zero-on-sigterm', 'structured-logs', 'auto-iam-authn', 'private-ip', 'debug'].includes(name);
  flags.set(name, inline ?? (boolean ? 'true' : args[++i]));
}
const on = (name) => flags.has(name) && flags.get(name) !== 'false';
if (instances.length === 0) {
  console.error('cloud-sql-proxy: missing instance connection name');
  process.exit(1);
}
const dbPort = Number(flags.get('port') ?? flags.get('p') ?? 5432);
createServer((s) => s.on('error', () => {}).end()).listen(dbPort, flags.get('address') ?? '127.0.0.1', () => console.log(`cloud-sql-proxy: listening on ${dbPort} for ${instances[0]}`));
if (on('health-check')) {
  const host = flags.get('http-address') ?? 'localhost';
  serve('cloud-sql-proxy', host === 'localhost' ? '127.0.0.1' : host, Number(flags.get('http-port') ?? 9090), {
    'GET /startup': (_req, res) => res.writeHead(200).end('ok\n'),
    'GET /readiness': (_req, res) => res.writeHead(200).end('ok\n'),
    'GET /liveness': (_req, res) => res.writeHead(200).end('ok\n'),
  });
}
if (on('quitquitquit')) {
  const quit = (_req, res) => answerAndExit(res, 'ok\n');
  serve('cloud-sql-proxy', '127.0.0.1', Number(flags.get('admin-port') ?? 9091), { 'POST /quitquitquit': quit, 'GET /quitquitquit': quit });
}
onTerm((s) => `cloud-sql-proxy: received ${s}, exiting`, on('exit-zero-on-sigterm') ? 0 : 143);
