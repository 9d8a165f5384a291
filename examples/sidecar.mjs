// The notional sidecar of examples/job.yaml, in Node: it starts slowly, then serves
// HTTP, and exits 0 when it receives GET /shutdown. SHUTDOWN_FAILS=N answers the first
// N shutdown requests with 503, as a proxy still draining might. TLS_CERT and TLS_KEY
// (PEM files) make it serve HTTPS instead, as an admin port with a self-signed
// certificate does.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const port = Number(process.env.PORT ?? 8080);
const startupSeconds = Number(process.env.STARTUP_SECONDS ?? 30);
let failures = Number(process.env.SHUTDOWN_FAILS ?? 0);
const tls = process.env.TLS_CERT && process.env.TLS_KEY
  ? { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) } : undefined;
const createServer = (handler) => (tls ? createHttpsServer(tls, handler) : createHttpServer(handler));

console.log(`Sleeping ${startupSeconds}s to simulate a slow sidecar startup.`);
setTimeout(() => {
  const server = createServer((req, res) => {
    res.on('error', () => {});
    if (req.url === '/shutdown' && failures > 0) {
      failures--;
      console.log('Received /shutdown; not ready to stop yet (503).');
      res.writeHead(503).end('Busy.');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    if (req.url === '/shutdown') {
      console.log('Received /shutdown; shutting down.');
      res.on('finish', () => {
        server.close();
        server.closeIdleConnections();
      });
      res.end('Shutting down.');
      return;
    }
    res.end("We're running.");
  });
  server.listen(port, () => console.log(`Starting the sidecar on port ${port}.`));
}, startupSeconds * 1000);
