// `npm run kube:build`: builds kube-apiserver and etcd from the Go modules pinned in
// test/kube/go.mod into a cache outside the clone (~/.cache/proa/kube/<version>, or
// $PROA_KUBE_CACHE/<version>), once per version. Test tools only: nothing of this ships.
// GOTOOLCHAIN=local: a go.mod that wants a newer Go must fail here, loudly, rather than
// download a toolchain. The version is stamped, or /version would say v0.0.0-master.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../proa.ts';
import { kubeBinDir, kubeVersion } from '../real-apiserver.ts';

const moduleDir = join(root, 'test', 'kube');
const out = kubeBinDir();
const etcdVersion = readFileSync(join(moduleDir, 'go.mod'), 'utf8').match(/^\s*go\.etcd\.io\/etcd\/server\/v3 (v\S+)$/m)![1]!;
const go = ['/usr/local/go/bin/go', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'go'))].find((g) => existsSync(g));
if (!go) {
  console.error('kube:build: no `go` found (looked in /usr/local/go/bin and PATH); the real-API-server tier needs Go to build kube-apiserver and etcd');
  process.exit(1);
}

const [, major, minor] = kubeVersion.match(/^v(\d+)\.(\d+)/)!;
const targets = [
  {
    name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
    ldflags: ['-s', '-w', ...[['gitVersion', kubeVersion], ['gitMajor', major!], ['gitMinor', minor!], ['gitTreeState', 'clean']]
      .map(([k, v]) => `-X k8s.io/component-base/version.${k}=${v}`)],
  },
  { name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', ldflags: ['-s', '-w'] },
];
mkdirSync(out, { recursive: true });
for (const t of targets) {
  const dest = join(out, t.name);
  if (existsSync(dest)) {
    console.log(`kube:build: ${dest} already built (${(statSync(dest).size / 1e6).toFixed(1)} MB)`);
    continue;
  }
  const started = performance.now();
  console.log(`kube:build: building ${t.name} (${t.name === 'etcd' ? etcdVersion : kubeVersion}) with ${execFileSync(go, ['version']).toString().trim()}...`);
  execFileSync(go, ['build', '-trimpath', '-ldflags', t.ldflags.join(' '), '-o', `${dest}.tmp`, t.pkg], {
    cwd: moduleDir, stdio: 'inherit',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
  });
  renameSync(`${dest}.tmp`, dest);
  console.log(`kube:build: ${dest}: ${(statSync(dest).size / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
