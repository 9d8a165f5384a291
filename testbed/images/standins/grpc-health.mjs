// A gRPC server that answers the standard health-checking service
// (grpc.health.v1.Health/Check), as a sidecar with a `grpc` readinessProbe does: on
// node:http2 in cleartext, by hand (no gRPC library). As a program: PORT (default 9090)
// and SERVING_AFTER_SECONDS (the overall service "" answers NOT_SERVING until then);
// exits 0 on SIGTERM. Imported: grpcHealthServer() for tests that set each status.
import { createServer } from 'node:http2';

const codes = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };

/** The HealthCheckRequest's service (field 1, a string) from a gRPC frame. */
function serviceOf(frame) {
  const body = frame.subarray(5);
  if (body.length === 0) return '';
  if (body[0] !== 0x0a) return undefined;
  let len = 0;
  let i = 1;
  for (let shift = 0; i < body.length; shift += 7) {
    const b = body[i++];
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
  }
  return body.subarray(i, i + len).toString();
}

export function grpcHealthServer() {
  const statuses = new Map([['', 'SERVING']]);
  let asked = 0;
  const waiters = [];
  const server = createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      asked++;
      for (const w of waiters.filter((w) => w.n <= asked)) w.resolve();
      if (headers[':path'] !== '/grpc.health.v1.Health/Check') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
        return;
      }
      const service = serviceOf(Buffer.concat(chunks));
      const status = service === undefined ? undefined : statuses.get(service);
      if (status === undefined) {
        // The reference server's answer for a service it does not know: NOT_FOUND.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown service' }, { endStream: true });
        return;
      }
      const body = codes[status] === 0 ? Buffer.alloc(0) : Buffer.from([0x08, codes[status]]);
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(body.length, 1);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat([prefix, body]));
    });
  });
  return {
    server,
    set: (service, status) => statuses.set(service, status),
    count: () => asked,
    asked: (n) => (asked >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 9090);
  const after = Number(process.env.SERVING_AFTER_SECONDS ?? 0);
  const health = grpcHealthServer();
  if (after > 0) {
    health.set('', 'NOT_SERVING');
    setTimeout(() => {
      health.set('', 'SERVING');
      console.log('serving');
    }, after * 1000);
  }
  process.on('SIGTERM', () => process.exit(0));
  health.server.listen(port, () => console.log(`gRPC health on port ${port}`));
}
