// The notional sidecar of examples/job.yaml, in Node: it starts slowly, then serves
// HTTP, and exits 0 when it receives GET /shutdown.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const startupSeconds = Number(process.env.STARTUP_SECONDS ?? 30);

console.log(`Sleeping ${startupSeconds}s to simulate a slow sidecar startup.`);
setTimeout(() => {
  const server = createServer((req, res) => {
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
