// The baseline: readiness by polling once a second, as scuttle polls Envoy and
// linkerd-await polls the proxy's /ready. bench/poller.mjs polls; the sidecar here turns
// ready at a random moment; the time to the command's first instruction is measured on
// the same clock as proa's.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { node, root } from '../test/proa.ts';
import { clock, Lines } from './tools.ts';
import { ms, now } from './stats.ts';

export async function pollingOnce(): Promise<number> {
  let ready = false;
  const sidecar = createServer((_req, res) => res.writeHead(ready ? 200 : 503).end());
  await new Promise<void>((resolve) => sidecar.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sidecar.address() as AddressInfo).port}/ready`;
  const child = spawn(node, [join(root, 'bench', 'poller.mjs'), url, clock(), 'stamp'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new Lines(child.stdout!);
  await out.next(/^polling/);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
  const t0 = now();
  ready = true;
  const start = BigInt((await out.next(/^clock start (\d+)/))[1]!);
  await new Promise((resolve) => child.once('exit', resolve));
  sidecar.close();
  return ms(t0, start);
}
