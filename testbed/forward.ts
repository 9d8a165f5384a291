// A listener that forwards every connection to another address (a TCP port or a Unix
// socket), closing both sides when either closes: how the test bed crosses a network
// namespace (the simulator's Pods, the real node) with a socket that is a path.
import { connect, createServer, type NetConnectOpts, type Server } from 'node:net';

export function forwarder(to: NetConnectOpts): Server {
  return createServer((inside) => {
    const outside = connect(to);
    inside.pipe(outside).pipe(inside);
    const close = (): void => {
      inside.destroy();
      outside.destroy();
    };
    inside.on('error', close).on('close', close);
    outside.on('error', close).on('close', close);
  });
}
