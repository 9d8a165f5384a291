// What the stand-ins share: an HTTP listener that logs each request and routes it.
import { createServer } from 'node:http';

/** Serves `routes` ("METHOD /path" → handler) on host:port; anything else is 404, a known path with another method 405. */
export function serve(name, host, port, routes) {
  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    console.log(`${name}: ${req.method} ${path} on :${port}`);
    const handler = routes[`${req.method} ${path}`];
    if (handler) return handler(req, res);
    const known = Object.keys(routes).some((r) => r.endsWith(` ${path}`));
    res.writeHead(known ? 405 : 404).end(known ? 'method not allowed\n' : 'not found\n');
  });
  server.listen(port, host, () => console.log(`${name}: listening on ${host}:${port}`));
  return server;
}

/** Answers 200 with `body`, then exits with `code` once the answer is sent. */
export function answerAndExit(res, body, code = 0) {
  res.on('finish', () => setImmediate(() => process.exit(code)));
  res.writeHead(200).end(body);
}

/** Exits with `code` on SIGTERM (and SIGINT), after `note`. */
export function onTerm(note, code = 0) {
  for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { console.log(note(s)); process.exit(code); });
}
