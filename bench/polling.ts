// The baseline: readiness by polling once a second, as scuttle polls Envoy and
// linkerd-await polls the proxy's /ready. bench/poller.mjs polls; the sidecar here turns
// ready at a random moment; the time to the command's first instruction is measured on
// the same clock as proa's.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { binary, node, root } from '../testbed/paths.ts';
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

/**
 * proa without API access, judging readiness by --wait-http: the time from the
 * sidecar's turning ready to the command's first instruction, and the probe requests
 * per second proa sent while it waited.
 */
export async function endpointOnce(): Promise<{ readyToExec: number; perSecond: number }> {
  let ready = false;
  const probes: bigint[] = [];
  const sidecar = createServer((_req, res) => {
    if (!ready) probes.push(now());
    res.writeHead(ready ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => sidecar.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sidecar.address() as AddressInfo).port}/ready`;
  const child = spawn(binary, ['--wait-http', url, '--no-exit-wait', '--', clock(), 'stamp'], {
    stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '', PROA_LOG: 'error', PROA_SERVICEACCOUNT_DIR: '/nonexistent' },
  });
  const out = new Lines(child.stdout!);
  // Waiting: the first probe has come; then 1 to 2 s more, ready at a random moment.
  while (probes.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 1000));
  const t0 = now();
  ready = true;
  // The rate between the second and the last probe of the wait (the first one also
  // carries proa's loading of its HTTP client, which would shorten the span): n probes, n - 1 gaps.
  const steady = probes.slice(1);
  const perSecond = (steady.length - 1) / (ms(steady[0]!, steady.at(-1)!) / 1000);
  const start = BigInt((await out.next(/^clock start (\d+)/))[1]!);
  await new Promise((resolve) => child.once('exit', resolve));
  sidecar.close();
  return { readyToExec: ms(t0, start), perSecond };
}
