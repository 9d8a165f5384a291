// proa's own readiness probes (src/probes/prober.ts), by the requests a sidecar receives: how
// many a second while it is not ready (at most 5 by design), and after it is (none).
// The module itself, against a local server that answers 503 for `waitMs` and then 200,
// with the Pod handed in as the watch would.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/shared/log.ts';
import { Prober } from '../src/probes/prober.ts';
import { decodePod } from '../src/kube/decode.ts';
import type { Plan } from '../src/pod/plan.ts';
import type { ContainerStatus } from '../src/shared/pod.ts';

export async function probeRates(waitMs: number, afterMs: number): Promise<{ perSecondWaiting: number; afterReady: number }> {
  const started = performance.now();
  const times: number[] = [];
  const server = createServer((_req, res) => {
    times.push(performance.now());
    res.writeHead(performance.now() - started < waitMs ? 503 : 200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const { pod } = decodePod({
    metadata: { name: 'p', namespace: 'n', uid: 'u' },
    spec: { containers: [{ name: 'main' }, { name: 'proxy', readinessProbe: { httpGet: { port, path: '/ready' } } }] },
    status: { podIP: '127.0.0.1', containerStatuses: [{ name: 'proxy', ready: false, containerID: 'containerd://x', state: { running: { startedAt: new Date().toISOString() } } }] },
  });
  const plan: Plan = { own: 'main', ownRule: 'bench', awaited: [{ name: 'proxy', native: false }], restartPolicy: 'Never', notes: [], restartTraps: [], unprobed: [], nativeByDefault: [], peers: [] };
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const status = pod.status!.containerStatuses![0] as ContainerStatus;
  const listeners = new Set<() => void>();
  const prober = new Prober(createLogger('json', 'error', () => {}), {
    pod, plan,
    observe: (l) => (listeners.add(l), () => listeners.delete(l)),
    wake: () => {
      if (prober.passed('proxy', status)) ready();
      for (const l of [...listeners]) l();
    },
  });
  try {
    prober.start();
    await isReady;
    const readyAt = performance.now();
    const waiting = times.filter((t) => t < started + waitMs).length / (waitMs / 1000);
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    return { perSecondWaiting: waiting, afterReady: times.filter((t) => t > readyAt).length };
  } finally {
    prober.stop();
    server.close();
  }
}
