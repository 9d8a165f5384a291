// How fast proa reacts, on one clock (CLOCK_MONOTONIC: bench/clock.c and
// process.hrtime.bigint()), against the fake or the real API server:
// - ready -> exec: from the API server's bytes carrying the last sidecar's ready status
//   reaching proa's connection (a TCP proxy in front of the server timestamps them) to
//   the command's first instruction (bench/clock.c stamp, static);
// - exit -> first shutdown request: from the command's last instruction to the
//   sidecar's HTTP server receiving the request;
// - last sidecar exit -> proa exit: from the bytes carrying the sidecar's terminated
//   status to wait4() returning for proa (clock run).
// Also, per run: proa's RSS while the command runs, its peak over the whole Job, and
// (on the fake) the API requests the Job cost, for the Pod and for proa's Events (on, as
// by default: the end's figure includes posting the last of them).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { kubeletApi, type Backend } from '../testbed/simulator/kubelet-api.ts';
import { makePod, running, terminated } from '../test/pods.ts';
import { binary, tempDir } from '../testbed/paths.ts';
import { TcpProxy } from '../test/tcp-proxy.ts';
import { childrenOf, clock, Lines, memoryOf } from './tools.ts';
import { footprintOf } from './memory.ts';
import { ms, now } from './stats.ts';

export interface Reaction {
  readyToExec: number;
  exitToRequest: number;
  lastExitToProaExit: number;
  /** KiB */
  rssWhileCommand: number;
  /** Anonymous memory (KiB) while the command runs: proa's own, whatever else maps the binary (the quiet Job's proa does). */
  anonWhileCommand: number;
  /** KiB, wait4's ru_maxrss over the whole Job */
  peakRss: number;
  /** Requests the API server received for this Job (the fake only): for the Pod, and proa's Events. */
  requests: { pod: number; events: number } | undefined;
}

const isEvents = (path: string): boolean => /\/events(\/|$)/.test(path);

export async function reactionOnce(kind: Backend, i: number, bin = binary): Promise<Reaction> {
  const api = await kubeletApi(kind, 'bench');
  const pod = makePod({ name: `bench-${i}`, containers: ['main', 'proxy'] });
  running(pod, 'main', true);
  running(pod, 'proxy', false);
  await api.createPod(pod);
  api.writeStatus(pod.status);
  await api.settled();
  const env = api.clusterEnv(await api.mountServiceAccount(join(tempDir('proa-bench-'), 'sa')));
  const proxy = await TcpProxy.start(env.KUBERNETES_SERVICE_HOST!, Number(env.KUBERNETES_SERVICE_PORT));
  let requested: bigint | undefined;
  let onRequest!: () => void;
  const request = new Promise<void>((resolve) => (onRequest = resolve));
  const sidecar = createServer((_req, res) => {
    requested ??= now();
    res.writeHead(200).end();
    onRequest();
  });
  await new Promise<void>((resolve) => sidecar.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sidecar.address() as AddressInfo).port}/quit`;
  const child = spawn(clock(), ['run', bin, '-p', url, '--', clock(), 'stamp', 'hold'], {
    env: { ...env, KUBERNETES_SERVICE_PORT: String(proxy.port), POD_NAME: pod.metadata.name, POD_NAMESPACE: api.namespace, PATH: process.env.PATH ?? '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = new Lines(child.stdout!);
  const err = new Lines(child.stderr!);
  try {
    await err.next(/"msg":"sidecar proxy: running, not ready"/);
    // proa's first Event (WaitingForSidecars) answered: its bytes come down the proxy too,
    // and must not pass for the status that follows.
    if (api.fake) await api.fake.waitForRequest((r) => r.method === 'POST' && isEvents(r.path));
    else while ((await api.proaEvents()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    // Until the request has arrived, proa's log waits in the pipe: reading it would keep
    // this process, which plays the sidecar, busy at the moment measured. (A sidecar in a
    // process of its own was tried: on 2 cores, with proa and this process running, it
    // waits 1-2 ms for a core to wake on, which is the machine's, not proa's.)
    child.stderr!.pause();
    const mark = proxy.downstream.length;
    running(pod, 'proxy', true);
    api.writeStatus(pod.status);
    const start = BigInt((await out.next(/^clock start (\d+)/))[1]!);
    const readyToExec = ms(proxy.downstream[mark]!, start);
    const proa = childrenOf(child.pid!)[0]!;
    const rssWhileCommand = memoryOf(proa).rss;
    const anonWhileCommand = footprintOf(proa).anon;
    child.stdin!.write('\n');
    const exit = BigInt((await out.next(/^clock exit (\d+)/))[1]!);
    await request;
    const exitToRequest = ms(exit, requested!);
    child.stderr!.resume();
    const mark2 = proxy.downstream.length;
    terminated(pod, 'proxy', 0);
    api.writeStatus(pod.status);
    const [, exited, maxrss, status] = await err.next(/^clock exited (\d+) maxrss (\d+) status (\d+)/);
    if (status !== '0') throw new Error(`proa exited ${status}: ${err.all.join('\n')}`);
    return {
      readyToExec, exitToRequest, lastExitToProaExit: ms(proxy.downstream[mark2]!, BigInt(exited!)),
      rssWhileCommand, anonWhileCommand, peakRss: Number(maxrss), requests: api.fake && {
        pod: api.fake.requests.filter((r) => !isEvents(r.path)).length, events: api.fake.requests.filter((r) => isEvents(r.path)).length,
      },
    };
  } finally {
    child.kill('SIGKILL');
    sidecar.close();
    await proxy.stop();
    await api.stop();
  }
}
