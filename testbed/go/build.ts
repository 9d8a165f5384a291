// `npm run kube:build`: builds the test bed's Go tools from the modules pinned here into
// a cache outside the clone (~/.cache/proa/kube/<version>, or $PROA_KUBE_CACHE/<version>),
// once per version. Test tools only: nothing of this ships.
//   kube/      kube-apiserver and etcd (the real-API-server tier); kubelet,
//              kube-controller-manager, kube-scheduler and kubectl (the real node)
//   registry/  the CNCF distribution registry the real node pulls every image from
// `--api-only` builds the first two. GOTOOLCHAIN=local: a go.mod that wants a newer Go
// must fail here, loudly, rather than download a toolchain. Kubernetes' version is
// stamped, or /version would say v0.0.0-master.
// The cache is shared by every clone on the machine: one build at a time holds a lock
// there (a file naming its PID; a dead holder's is taken over), and another says it waits
// for it, then finds the tools built. Each output is written under a name of its own and
// renamed into place. PROA_GO names the go binary (the test of the lock uses a stand-in).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../paths.ts';
import { kubeBinDir, kubeVersion } from '../api/real-apiserver.ts';

const kubeModule = join(root, 'testbed', 'go', 'kube');
const registryModule = join(root, 'testbed', 'go', 'registry');
const out = kubeBinDir();
const pinned = (dir: string, module: string): string =>
  readFileSync(join(dir, 'go.mod'), 'utf8').match(new RegExp(`^\\s*(?:require\\s+)?${module.replace(/[./]/g, '\\$&')} (v\\S+)$`, 'm'))![1]!;
const go = [process.env.PROA_GO ?? '/usr/local/go/bin/go', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'go'))].find((g) => existsSync(g));
if (!go) {
  console.error('kube:build: no `go` found (looked in /usr/local/go/bin and PATH); the real-API-server and real-node tiers need Go to build their tools');
  process.exit(1);
}

const [, major, minor] = kubeVersion.match(/^v(\d+)\.(\d+)/)!;
const stamped = ['-s', '-w', ...[['gitVersion', kubeVersion], ['gitMajor', major!], ['gitMinor', minor!], ['gitTreeState', 'clean']]
  .map(([k, v]) => `-X k8s.io/component-base/version.${k}=${v}`)];
interface Target { name: string; pkg: string; dir: string; version: string; ldflags: string[] }
const kube = (name: string): Target => ({ name, pkg: `k8s.io/kubernetes/cmd/${name}`, dir: kubeModule, version: kubeVersion, ldflags: stamped });
const apiTier: Target[] = [kube('kube-apiserver'),
  { name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', dir: kubeModule, version: pinned(kubeModule, 'go.etcd.io/etcd/server/v3'), ldflags: ['-s', '-w'] }];
const nodeTier: Target[] = [kube('kubelet'), kube('kube-controller-manager'), kube('kube-scheduler'), kube('kubectl'),
  { name: 'registry', pkg: 'github.com/distribution/distribution/v3/cmd/registry', dir: registryModule,
    version: pinned(registryModule, 'github.com/distribution/distribution/v3'), ldflags: ['-s', '-w'] }];
const targets = process.argv.includes('--api-only') ? apiTier : [...apiTier, ...nodeTier];

mkdirSync(out, { recursive: true });
await lock(join(out, '.build.lock'));
const all = performance.now();
for (const t of targets) {
  const dest = join(out, t.name);
  if (existsSync(dest)) {
    console.log(`kube:build: ${dest} already built (${(statSync(dest).size / 1e6).toFixed(1)} MB)`);
    continue;
  }
  const started = performance.now();
  console.log(`kube:build: building ${t.name} (${t.version}) with ${execFileSync(go, ['version']).toString().trim()}...`);
  const tmp = `${dest}.${process.pid}.tmp`;
  execFileSync(go, ['build', '-trimpath', '-ldflags', t.ldflags.join(' '), '-o', tmp, t.pkg], {
    cwd: t.dir, stdio: 'inherit',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
  });
  renameSync(tmp, dest);
  console.log(`kube:build: ${dest}: ${(statSync(dest).size / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
console.log(`kube:build: done in ${((performance.now() - all) / 1000).toFixed(0)} s`);

/** Holds `path` for this process until it exits; waits (saying so) while a live build holds it. */
async function lock(path: string): Promise<void> {
  let said = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      process.once('exit', () => { try { unlinkSync(path); } catch { /* gone already */ } });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = holder > 0;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) {
      // A build that died without its exit handler (kill -9): its lock is stale.
      try { unlinkSync(path); } catch { /* taken over by another already */ }
      continue;
    }
    if (!said) console.log(`kube:build: another build (pid ${holder}) is writing ${out}; waiting for it to finish`);
    said = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
