// A TCP proxy in front of an API server that can go silent: `blackhole()` stops
// forwarding on every open connection, in both directions, without closing anything.
// To proa that is a half-open connection (a node's conntrack entry dropped, a load
// balancer failed over): no FIN, no RST, just nothing. New connections pass again.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  port = 0;
  readonly #server: Server;
  readonly #open = new Set<{ client: Socket; upstream: Socket; dead: boolean }>();
  connections = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#server = createServer((client) => {
      this.connections++;
      const upstream = connect(targetPort, targetHost);
      const pair = { client, upstream, dead: false };
      this.#open.add(pair);
      client.on('data', (d) => { if (!pair.dead) upstream.write(d); });
      upstream.on('data', (d) => { if (!pair.dead) client.write(d); });
      const close = (): void => {
        if (pair.dead) return; // a blackholed connection never closes on its own
        this.#open.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    p.port = (p.#server.address() as { port: number }).port;
    return p;
  }

  /** Every connection open now stops passing data, and is never closed by this side. */
  blackhole(): void {
    for (const pair of this.#open) pair.dead = true;
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.#open) {
      client.destroy();
      upstream.destroy();
    }
    this.#server.close();
  }
}
