// A sidecar for the soak, with its faults as knobs (all optional):
//   PORT              where it serves /ready and /shutdown
//   STARTUP_SECONDS   before it listens at all (a late endpoint)
//   SHUTDOWN_FAILS    how many shutdown requests get 503 before one is obeyed
//   CRASH_AFTER       seconds after listening at which it exits with code 1
//   FLAP_SECONDS      /ready alternates between 200 and 503 every this many seconds
//   NEVER_READY=1     /ready always answers 503
// Each answer to proa's own readiness probe is logged as `proa-probe STATUS WALL_MS`.
// It exits 0 on an obeyed shutdown request, and on TERM (as Envoy does).
import { createServer } from 'node:http';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const port = env('PORT', 8080);
let failures = env('SHUTDOWN_FAILS', 0);
const flap = env('FLAP_SECONDS', 0);
const neverReady = process.env.NEVER_READY === '1';
process.on('SIGTERM', () => process.exit(0));

setTimeout(() => {
  const since = Date.now();
  const server = createServer((req, res) => {
    res.on('error', () => {});
    if (req.url === '/ready') {
      const down = neverReady || (flap > 0 && Math.floor((Date.now() - since) / (flap * 1000)) % 2 === 1);
      // proa's own probe (its User-Agent names it), with the wall clock: what the soak holds proa's start to.
      if (String(req.headers['user-agent']).includes('(proa/')) console.log(`proa-probe ${down ? 503 : 200} ${Date.now()}`);
      res.writeHead(down ? 503 : 200).end();
      return;
    }
    if (req.url === '/shutdown') {
      if (failures > 0) {
        failures--;
        res.writeHead(503).end('busy');
        return;
      }
      console.log('shutdown obeyed');
      res.writeHead(200).end('bye', () => process.exit(0));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
  const crash = env('CRASH_AFTER', 0);
  if (crash > 0) setTimeout(() => process.exit(1), crash * 1000);
}, env('STARTUP_SECONDS', 0) * 1000);
