// `npm run demo`: the seed scenario (examples/demo-job.yaml, mirroring examples/job.yaml)
// played by the Pod simulator with the built binary as the main container's entrypoint.
// `npm run demo -- [path/to/manifest.yaml] [--apiserver=fake|real] [--supply-rbac]
// [--exec CONTAINER -- COMMAND...]`: another manifest (a path from where you stand; every
// file in examples/ plays, with the sidecars their webhooks inject); the API server to
// play it on: the fake (default) or the real kube-apiserver and etcd (after `npm run
// kube:build`); the README's Role for a manifest that grants proa none (without the
// flag proa is refused, as in a cluster); and a command run in a container once it has
// started and written its first line, as `kubectl exec POD -c CONTAINER -- COMMAND`
// would (`--exec main -- proa check`).
// `--node=real` plays it on the real node instead (testbed/node/: kubelet, containerd,
// runc, images pulled from the test bed's registry), building the node's binaries first
// when they are not built yet; the default stays the simulator, which needs no Go.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './ports.ts';
import { Simulator } from './simulator/simulator.ts';
import { root } from './paths.ts';
import { render } from './simulator/timeline.ts';
import { execArgv, runtime } from './images/runtime.ts';
import { podFromManifest } from './simulator/manifest.ts';
import { podNetworksAvailable } from './simulator/pod-network.ts';
import { admit } from './webhooks/injectors.ts';
import { ControlPlane, kubeBinariesBuilt, kubeBinDir } from './api/real-apiserver.ts';
import { nodeMissing, RealNode } from './node/node.ts';
import { documentedRbac } from './simulator/kubelet-api.ts';
import { repositoryAndTag } from './images/oci.ts';
import { stringify } from 'yaml';
import { PlayedOnNode } from './node/played.ts';

// Everything after `--` is the command --exec runs.
const args = process.argv.slice(2);
const dashes = args.indexOf('--');
const execCommand = dashes < 0 ? [] : args.slice(dashes + 1);
const { values, positionals } = parseArgs({
  args: dashes < 0 ? args : args.slice(0, dashes), allowPositionals: true,
  options: {
    apiserver: { type: 'string', default: 'fake' }, node: { type: 'string', default: 'simulator' },
    'supply-rbac': { type: 'boolean', default: false }, exec: { type: 'string' },
  },
});
if (values.node !== 'simulator' && values.node !== 'real') {
  console.error(`--node: "${values.node}" is not a node; expected simulator (the default) or real`);
  process.exit(2);
}
if (values.apiserver !== 'fake' && values.apiserver !== 'real') {
  console.error(`--apiserver: "${values.apiserver}" is not an API server; expected fake or real`);
  process.exit(2);
}
if ((values.exec === undefined) !== (execCommand.length === 0)) {
  console.error('--exec CONTAINER goes with a command after --: npm run demo -- FILE --exec main -- proa check');
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
let rbac: false | undefined;
try {
  if (podFromManifest(played).rbac.length === 0) {
    if (values['supply-rbac']) console.log("The manifest grants proa no Role: the README's Role and RoleBinding are applied (--supply-rbac).");
    else {
      console.log('The manifest grants proa no Role and RoleBinding: proa will be refused (403), as in a cluster. ' +
        "--supply-rbac applies the README's.");
      rbac = false;
    }
  }
} catch (err) {
  console.error(`${manifest}: ${(err as Error).message}`);
  process.exit(2);
}
if (values.node === 'real') process.exit(await onRealNode());
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
// A Job that never ends must not look like a hung demo: after 30 s in which the Pod did
// not change (its statuses, phase, containers starting or ending; output and probe
// results do not count: a sidecar that logs every probe would hide a stuck Job), say so,
// and again every 30 s.
let quiet: NodeJS.Timeout | undefined;
const quietMs = Number(process.env.PROA_DEMO_QUIET_MS ?? 30_000);
const hint = (): void => {
  clearTimeout(quiet);
  quiet = setTimeout(() => {
    console.log(`${' '.repeat(11)}(the Pod has not changed for ${quietMs / 1000}s: it is still running. Ctrl-C deletes it, as kubectl delete pod would)`);
    hint();
  }, quietMs);
  quiet.unref();
};
const sim = await Simulator.start(played, {
  api: values.apiserver,
  network,
  admission: admit,
  runtime,
  timelineFile,
  ...(rbac === false ? { rbac } : {}),
  ...(values.exec ? { ownPidNamespace: [values.exec] } : {}),
  echo: (e) => {
    const line = render(e);
    if (line) console.log(line);
    if (!['log', 'probe', 'exec-output'].includes(e.type)) hint();
  },
});
if (values.exec) {
  const container = values.exec;
  void sim.waitFor((e) => e.type === 'log' && e.container === container).then(() => sim.exec(container, execArgv(execCommand), execCommand))
    .catch((err: Error) => console.error(`--exec ${container}: ${err.message}`));
}
const stop = (): void => sim.delete();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const outcome = await sim.finished;
clearTimeout(quiet);
await sim.stop();
await plane?.stop();
const codes = Object.entries(outcome.exitCodes).map(([k, v]) => `${k}=${v ?? 'none'}`).join(', ');
console.log(`\nPod ${outcome.deleted ? 'deleted' : 'finished'}: phase ${outcome.phase}; exit codes ${codes}`);
console.log(outcome.phase === 'Succeeded' ? 'Job complete.' : 'Job failed.');
console.log(`Timeline (JSON lines): ${timelineFile}`);
process.exit(outcome.phase === 'Succeeded' ? 0 : 1);

/** The manifest as a real node plays it: applied with kubectl, followed by a watch, the logs merged in at the end by their timestamps. */
async function onRealNode(): Promise<number> {
  // Each build at most once: a second time round, what is missing is said, not rebuilt.
  const tried = new Set<string>();
  for (let missing = nodeMissing(); missing; missing = nodeMissing()) {
    const build = missing.startsWith('not built') ? ['testbed/go/build.ts']
      : missing.includes('portable folder') ? ['build.mjs', '--dist'] : undefined;
    if (!build || tried.has(build[0]!)) {
      console.error(`--node=real: ${missing}`);
      return 2;
    }
    console.log(build[0] === 'build.mjs' ? 'Building proa\'s portable folder first (npm run dist: about a minute)...'
      : `Building the real node's binaries first (${missing.replace('not built: ', '').replace(/ \(.*$/, '')}) into ${kubeBinDir()}: ` +
        'about 6 minutes on 2 cores the first time (Go modules downloaded included), then cached.');
    tried.add(build[0]!);
    const r = spawnSync(process.execPath, build, { cwd: root, stdio: 'inherit', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin` } });
    if (r.status !== 0) return 1;
  }
  let text = played;
  if (rbac === undefined && values['supply-rbac']) {
    text = `${text}\n---\n${documentedRbac().map((d) => stringify(d)).join('---\n')}`;
  }
  console.log('Starting the real node (etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, a registry) in namespaces of its own...');
  const node = await RealNode.start({ progress: (line) => console.log(`  ${line}`) });
  // Whatever fails from here on (a manifest kubectl refuses), the node is stopped.
  try {
    console.log(`Node Ready in ${(node.startupMs / 1000).toFixed(1)} s. Applying ${manifest}\n`);
    // A manifest written for a cluster names its own images: said up front, since their
    // pull fails here as it would in a cluster that cannot reach them (ErrImagePull).
    const held = new Set(node.images.map((r) => JSON.stringify(repositoryAndTag(r))));
    const { pod } = podFromManifest(text);
    const absent = [...new Set([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: { image?: string }) => String(c.image ?? '')))]
      .filter((ref) => !held.has(JSON.stringify(repositoryAndTag(ref))));
    if (absent.length > 0) {
      console.log(`Not in the test bed's registry, so their pull will fail (ErrImagePull) and the Pod will wait: ${absent.join(', ')}. ` +
        `It holds: ${node.images.join(', ')}.\n`);
    }
    const p = await PlayedOnNode.play(node, text, 'demo', (e) => {
      const line = render(e);
      if (line) console.log(line);
    });
    if (values.exec) {
      const container = values.exec;
      void p.waitFor((e) => e.type === 'status' && e.container === container && /^(running|ready)$/.test(String(e.state)))
        .then(async () => {
          const r = await p.exec(container, execCommand);
          console.log(`${' '.repeat(11)}kubectl exec -c ${container} -- ${execCommand.join(' ')} (exit ${r.code}):\n${(r.stdout + r.stderr).trimEnd()}`);
        });
    }
    // Every way out stops the node. Ctrl-C or SIGTERM deletes the Pod, as kubectl delete
    // pod would, and waits for it for its grace period and 15 s more; with no Pod yet, a
    // second signal, or that wait over, the node is stopped at once; the node dying too.
    let leaving = false;
    const leave = async (code: number, why: string): Promise<never> => {
      if (!leaving) {
        leaving = true;
        console.error(`\n${why}`);
        await p.stop().catch(() => {});
        await node.stop();
      }
      process.exit(code);
    };
    let deleting = false;
    const stop = (signal: NodeJS.Signals): void => {
      const code = signal === 'SIGINT' ? 130 : 143;
      if (deleting) return void leave(code, `${signal} again: stopping the node now`);
      deleting = true;
      void p.deletePod().then((had) => {
        if (!had) return leave(code, `${signal}: no Pod was created yet; stopping the node`);
        const boundS = Number(p.pod?.spec?.terminationGracePeriodSeconds ?? 30) + 15;
        console.log(`${signal}: the Pod is being deleted, as kubectl delete pod would (${signal === 'SIGINT' ? 'Ctrl-C' : 'a signal'} again stops the node at once)`);
        setTimeout(() => void leave(code, `the Pod was still there ${boundS}s after its deletion: stopping the node`), boundS * 1000).unref();
        return undefined;
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const outcome = await Promise.race([p.finished, node.died.then((why) => leave(1, why))]);
    const timeline = [...p.timeline, ...(outcome.deleted ? [] : await p.logEvents())].sort((a, b) => a.t - b.t);
    console.log('\nThe whole timeline, each container\'s log placed by the kubelet\'s timestamps (kubectl logs --timestamps):\n');
    for (const e of timeline) {
      const line = render(e);
      if (line) console.log(line);
    }
    await p.stop();
    await node.stop();
    const codes = Object.entries(outcome.exitCodes).map(([k, v]) => `${k}=${v}`).join(', ');
    console.log(`\nPod ${outcome.deleted ? 'deleted' : 'finished'}: phase ${outcome.phase}; exit codes ${codes}`);
    console.log(outcome.phase === 'Succeeded' ? 'Job complete.' : 'Job failed.');
    return outcome.phase === 'Succeeded' ? 0 : 1;
  } catch (err) {
    await node.stop();
    throw err;
  }
}
