// Ports for test servers and sidecars, in a module of its own: the API servers' launcher
// and the end-to-end helpers both need it, and neither should import the other.
import { createServer } from 'node:net';

const handedOut = new Set<number>();

/**
 * A port for a sidecar to listen on later. Not from the kernel's ephemeral range
 * (32768 and up by default): an outgoing connection (a probe, proa's watch) may take
 * such a port as its source before the sidecar binds it. Random below that range, free
 * now, and never handed out twice by this process.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (handedOut.has(port)) continue;
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    await new Promise((resolve) => s.close(resolve));
    handedOut.add(port);
    return port;
  }
}
