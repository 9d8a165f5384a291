// `npm run demo`: the seed scenario (examples/demo-job.yaml, mirroring examples/job.yaml)
// played by the Pod simulator with the built binary as the main container's entrypoint.
// `npm run demo -- [path/to/manifest.yaml] [--apiserver=fake|real]`: another manifest
// (a path from where you stand; every file in examples/ plays, with the sidecars their
// webhooks inject), and the API server to play it on: the fake (default) or the real
// kube-apiserver and etcd (after `npm run kube:build`).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './e2e.ts';
import { Simulator } from './simulator.ts';
import { root } from './proa.ts';
import { render } from './timeline.ts';
import { runtime } from './images.ts';
import { podNetworksAvailable } from './pod-network.ts';
import { admit } from './webhooks.ts';
import { ControlPlane, kubeBinariesBuilt, kubeBinDir } from './real-apiserver.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { apiserver: { type: 'string', default: 'fake' } } });
if (values.apiserver !== 'fake' && values.apiserver !== 'real') {
  console.error(`--apiserver: "${values.apiserver}" is not an API server; expected fake or real`);
  process.exit(2);
}
// What the demo needs beyond npm, said up front rather than as a stack trace later.
for (const [tool, why] of [['openssl', "makes the API server's certificates"], ['curl', "is the demo Job's command"]] as const) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`npm run demo needs ${tool}, which ${why}: install it (Debian and Ubuntu: apt-get install ${tool})`);
    process.exit(2);
  }
}
// npm runs scripts from the package's root; a path is meant from where the user stands.
const manifest = positionals[0] ? resolve(process.env.INIT_CWD ?? process.cwd(), positionals[0]) : join(root, 'examples', 'demo-job.yaml');
// A Pod gets a network namespace of its own where this machine allows it (root), as in
// a cluster. Without one, the seed scenario's sidecar takes a free port instead of
// 18080, so that another server there cannot answer the probe in its place.
const network = podNetworksAvailable() ? 'pod' : 'host';
const text = readFileSync(manifest, 'utf8');
const played = positionals[0] || network === 'pod' ? text : text.replaceAll('18080', String(await freePort()));
let plane: ControlPlane | undefined;
if (values.apiserver === 'real') {
  if (!kubeBinariesBuilt()) {
    console.error(`--apiserver=real needs kube-apiserver and etcd in ${kubeBinDir()}: run npm run kube:build first (needs Go)`);
    process.exit(2);
  }
  plane = await ControlPlane.start();
  process.env.PROA_REAL_API = JSON.stringify(plane.access);
  console.log(`Real API server (kube-apiserver and etcd) ready at https://${plane.access.host}:${plane.access.port} in ${plane.startupMs} ms`);
}
console.log(`Simulating ${manifest} on the ${values.apiserver} API server\n`);
const timelineFile = join(root, 'dist', 'demo-timeline.jsonl');
// The examples' webhooks inject their sidecars, and their images run stand-ins.
const sim = await Simulator.start(played, {
  api: values.apiserver,
  network,
  admission: admit,
  runtime,
  timelineFile,
  echo: (e) => {
    const line = render(e);
    if (line) console.log(line);
  },
});
const stop = (): void => sim.delete();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const outcome = await sim.finished;
await sim.stop();
await plane?.stop();
const codes = Object.entries(outcome.exitCodes).map(([k, v]) => `${k}=${v ?? 'none'}`).join(', ');
console.log(`\nPod ${outcome.deleted ? 'deleted' : 'finished'}: phase ${outcome.phase}; exit codes ${codes}`);
console.log(outcome.phase === 'Succeeded' ? 'Job complete.' : 'Job failed.');
console.log(`Timeline (JSON lines): ${timelineFile}`);
process.exit(outcome.phase === 'Succeeded' ? 0 : 1);
