// `npm run demo`: the seed scenario (examples/demo-job.yaml, mirroring examples/job.yaml)
// played by the Pod simulator with the built binary as the main container's entrypoint.
import { join } from 'node:path';
import { Simulator } from './simulator.ts';
import { root } from './proa.ts';
import { render } from './timeline.ts';

const manifest = process.argv[2] ?? join(root, 'examples', 'demo-job.yaml');
console.log(`Simulating ${manifest}\n`);
const timelineFile = join(root, 'dist', 'demo-timeline.jsonl');
const sim = await Simulator.fromFile(manifest, {
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
const codes = Object.entries(outcome.exitCodes).map(([k, v]) => `${k}=${v ?? 'none'}`).join(', ');
console.log(`\nPod ${outcome.deleted ? 'deleted' : 'finished'}: phase ${outcome.phase}; exit codes ${codes}`);
console.log(outcome.phase === 'Succeeded' ? 'Job complete.' : 'Job failed.');
console.log(`Timeline (JSON lines): ${timelineFile}`);
process.exit(outcome.phase === 'Succeeded' ? 0 : 1);
