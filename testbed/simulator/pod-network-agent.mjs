// The inside of a simulated Pod's network namespace, like the pause container that holds
// a real Pod's: the simulator starts it with `unshare --net` (loopback brought up), and
// it gives the Pod the two things a cluster's network gives it:
// - the API server at the address the kubelet puts in KUBERNETES_SERVICE_HOST/PORT:
//   a listener on that address, here, forwarding each connection to a unix socket (a
//   path, so the same file in every network namespace) where the simulator forwards on;
// - the kubelet's probes, which a real kubelet sends to the Pod's IP: asked over stdin
//   (JSON lines), made from here by kubelet-probe.mjs, answered on stdout.
// Arguments: API host, API port, unix socket path.
import { kubeletProbe } from './kubelet-probe.mjs';
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
  void kubeletProbe(msg).then(({ pass, detail }) => send({ id: msg.id, pass, detail }));
}

createInterface({ input: process.stdin }).on('line', (line) => probe(JSON.parse(line)));
process.stdin.on('end', () => process.exit(0));
