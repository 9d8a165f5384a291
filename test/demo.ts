// `npm run demo`: the seed scenario (examples/demo-job.yaml, mirroring examples/job.yaml)
// played by the Pod simulator with the built binary as the main container's entrypoint.
// `npm run demo -- [path/to/manifest.yaml] [--apiserver=fake|real]`: another manifest
// (a path from where you stand), and the API server to play it on: the fake (default) or
// the real kube-apiserver and etcd (after `npm run kube:build`).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Simulator } from './simulator.ts';
import { root } from './proa.ts';
import { render } from './timeline.ts';
import { ControlPlane, kubeBinariesBuilt, kubeBinDir } from './real-apiserver.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { apiserver: { type: 'string', default: 'fake' } } });
if (values.apiserver !== 'fake' && values.apiserver !== 'real') {
  console.error(`--apiserver: "${values.apiserver}" is not an API server; expected fake or real`);
  process.exit(2);
}
const manifest = positionals[0] ? resolve(process.env.INIT_CWD ?? process.cwd(), positionals[0]) : join(root, 'examples', 'demo-job.yaml');
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
const sim = await Simulator.fromFile(manifest, {
  api: values.apiserver,
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
