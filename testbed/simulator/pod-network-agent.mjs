// The inside of a simulated Pod's network namespace, like the pause container that holds
// a real Pod's: the simulator starts it with `unshare --net` (loopback brought up), and
// it gives the Pod the two things a cluster's network gives it:
// - the API server at the address the kubelet puts in KUBERNETES_SERVICE_HOST/PORT:
//   a listener on that address, here, forwarding each connection to a unix socket (a
//   path, so the same file in every network namespace) where the simulator forwards on;
// - the kubelet's probes, which a real kubelet sends to the Pod's IP: asked over stdin
//   (JSON lines), made from here, answered on stdout.
// Arguments: API host, API port, unix socket path.
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const [host, port, socket] = process.argv.slice(2);
const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
// Like pause: ignore the usual stop signals; the simulator ends it with KILL.
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});

const forwarder = createServer((inside) => {
  const outside = connect(socket);
  inside.pipe(outside).pipe(inside);
  const close = () => { inside.destroy(); outside.destroy(); };
  inside.on('error', close).on('close', close);
  outside.on('error', close).on('close', close);
});
forwarder.listen(Number(port), host, () => send({ event: 'ready' }));

function probe(msg) {
  const done = (pass, detail) => send({ id: msg.id, pass, detail });
  if (msg.kind === 'http') {
    // As the kubelet's prober: no keep-alive (pkg/probe/http: DisableKeepAlives).
    const req = request({ host: msg.host, port: msg.port, path: msg.path, timeout: msg.timeoutMs, agent: false, headers: { 'User-Agent': 'kube-probe/1.37', Connection: 'close' } }, (res) => {
      res.resume();
      const s = res.statusCode ?? 0;
      done(s >= 200 && s < 400, `HTTP ${s}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(false, e.code ?? e.message));
    req.end();
  } else {
    const s = connect({ host: msg.host, port: msg.port, timeout: msg.timeoutMs });
    s.on('connect', () => { s.destroy(); done(true, 'connected'); });
    s.on('timeout', () => { s.destroy(); done(false, 'timeout'); });
    s.on('error', (e) => done(false, e.code ?? e.message));
  }
}

createInterface({ input: process.stdin }).on('line', (line) => probe(JSON.parse(line)));
process.stdin.on('end', () => process.exit(0));
