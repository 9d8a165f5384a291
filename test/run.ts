// `npm test`'s runner: starts one real API server and one real node for the whole run
// when their binaries are built (npm run kube:build), hands their addresses to every
// test file in PROA_REAL_API and PROA_REAL_NODE, runs the suite with Node's test runner, and stops it. A tier that
// cannot run here (the real API server without its binaries, the portable folder
// without npm run dist) is said once at the start and once at the end, where it is
// seen; everything else runs (PROA_REQUIRE_REAL_API=1, PROA_REQUIRE_REAL_NODE=1 and PROA_REQUIRE_DIST=1,
// as CI sets, make a missing tier a failure).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../testbed/paths.ts';
import { ControlPlane, kubeBinariesBuilt, kubeBinDir, kubeVersion } from '../testbed/api/real-apiserver.ts';
import { containerdVersion, nodeMissing, RealNode } from '../testbed/node/node.ts';
import { portableMissing } from './tiers.ts';

// Arguments: test files (default: every test/*.test.ts) and the test runner's own flags.
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const named = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = named.length > 0 ? named : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f));
const env = { ...process.env };
// The two back ends start side by side; the real node only when a file of its tier runs
// (`node test/run.ts test/cli.test.ts` needs none).
const isNodeFile = (f: string): boolean => /(^|\/)node(-[a-z]+)?\.test\.ts$/.test(f);
const nodeTier = files.some(isNodeFile);
let nodeNote = nodeTier ? nodeMissing() : 'none of its files was named';
const [plane, realNode] = await Promise.all([
  kubeBinariesBuilt() ? ControlPlane.start() : undefined,
  nodeNote ? undefined : RealNode.start().catch((err: unknown) => {
    nodeNote = `it failed to start: ${err instanceof Error ? err.message : String(err)}`;
    return undefined;
  }),
]);
if (plane) {
  env.PROA_REAL_API = JSON.stringify(plane.access);
  const rss = plane.rss();
  console.log(`real API server: kube-apiserver ${kubeVersion} and etcd from ${kubeBinDir()}, ready in ${plane.startupMs} ms ` +
    `(RSS: kube-apiserver ${Math.round(rss.apiserver / 1024)} MiB, etcd ${Math.round(rss.etcd / 1024)} MiB)`);
}
if (realNode) {
  env.PROA_REAL_NODE = realNode.toEnv();
  console.log(`real node: kubelet, containerd ${containerdVersion()}, controller-manager, scheduler and a registry, Ready with kube-root-ca.crt in ${realNode.startupMs} ms ` +
    `(${realNode.steps.map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)} s`).join(', ')})`);
}
const refuse = async (why: string): Promise<never> => {
  console.error(why);
  await Promise.all([realNode?.stop(), plane?.stop()]);
  process.exit(1);
};
if (!plane && process.env.PROA_REQUIRE_REAL_API === '1') await refuse(`the real-API-server tier cannot run: no kube-apiserver and etcd in ${kubeBinDir()}; run npm run kube:build`);
if (!realNode && nodeTier && process.env.PROA_REQUIRE_REAL_NODE === '1') await refuse(`the real-node tier cannot run: ${nodeNote}`);
const notRun: string[] = [];
if (nodeNote && nodeTier) notRun.push(`NOTE: the real-node tier (test/node*.test.ts) was NOT run: ${nodeNote}.`);
if (!plane) {
  notRun.push(`NOTE: the real-API-server tier was NOT run: no kube-apiserver ${kubeVersion} and etcd in ${kubeBinDir()}. ` +
    'Build them with `npm run kube:build` (needs Go), then run npm test again; everything else ran against the fake API server.');
}
const portable = portableMissing();
if (portable) notRun.push(`NOTE: the portable-folder tier (test/portable.test.ts) was NOT run: ${portable}.`);
for (const note of notRun) console.log(note);
// The real node's files run last, on their own: their Jobs (a Node process per stand-in,
// four Pods at a time) would otherwise take the 2 cores from the rest's timing.
const phases = [files.filter((f) => !isNodeFile(f)), realNode ? files.filter(isNodeFile) : []].filter((p) => p.length > 0);
let child: ChildProcess | undefined;
let interrupted = false;
const stop = (): void => {
  interrupted = true;
  child?.kill('SIGINT');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
let code = 0;
for (const phase of phases) {
  if (interrupted) break;
  // setpriv's parent-death signal: a runner killed outright takes the test runner with it.
  child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, '--test', '--test-concurrency=4', '--test-timeout=300000', ...flags, ...phase],
    { stdio: 'inherit', env, cwd: root });
  const running = child;
  code = Math.max(code, await new Promise<number>((resolve) => running.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0)))));
}
await realNode?.stop();
await plane?.stop();
// Said again, last, where it is seen.
if (notRun.length > 0) console.log(`\n${notRun.join('\n')}`);
process.exit(code);
