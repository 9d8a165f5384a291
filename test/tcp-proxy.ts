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
  /** When each chunk from the server was forwarded (CLOCK_MONOTONIC ns): the benchmark's "the API server sent it". */
  readonly downstream: bigint[] = [];

  constructor(targetHost: string, targetPort: number) {
    this.#server = createServer((client) => {
      this.connections++;
      const upstream = connect(targetPort, targetHost);
      // No Nagle on either side: a forwarded event must not wait for an ACK (40 ms).
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      const pair = { client, upstream, dead: false };
      this.#open.add(pair);
      client.on('data', (d) => { if (!pair.dead) upstream.write(d); });
      upstream.on('data', (d) => {
        if (pair.dead) return;
        this.downstream.push(process.hrtime.bigint());
        client.write(d);
      });
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

  /** Every connection open now is cut (destroyed at once): a dropped watch. */
  drop(): void {
    for (const pair of this.#open) {
      this.#open.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.#open) {
      client.destroy();
      upstream.destroy();
    }
    this.#server.close();
  }
}
