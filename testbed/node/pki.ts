// The real node's certificates, from one CA of ours (openssl): the API server's serving
// certificate lists every address a client uses (loopback for the harness's forwarder,
// the node IP it advertises, and the `kubernetes` Service's ClusterIP, which proa in a
// Pod dials and matches exactly), one client certificate per component in the group
// and name RBAC's bootstrap roles expect, the webhook's serving certificate, and the
// service-account key pair.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addresses, nodeName } from './addresses.ts';

/** Client identities: file stem → subject. */
export const clients = {
  admin: '/O=system:masters/CN=proa-test-admin',
  kubelet: `/O=system:nodes/CN=system:node:${nodeName}`,
  'controller-manager': '/CN=system:kube-controller-manager',
  scheduler: '/CN=system:kube-scheduler',
  'apiserver-kubelet-client': '/O=system:masters/CN=kube-apiserver-kubelet-client',
} as const;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function sign(dir: string, stem: string, subject: string, ext: string): void {
  writeFileSync(join(dir, `${stem}.ext`), ext);
  openssl(dir, ['req', ...ec, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', subject]);
  openssl(dir, ['x509', '-req', '-in', `${stem}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${stem}.crt`, '-days', '2', '-extfile', `${stem}.ext`]);
}

export function makeNodePki(dir: string): void {
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=proa-test-node-ca']);
  const ips = ['127.0.0.1', addresses.node, addresses.kubernetesService].map((ip) => `IP:${ip}`);
  const names = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'].map((n) => `DNS:${n}`);
  sign(dir, 'apiserver', '/CN=kube-apiserver', `subjectAltName=${[...ips, ...names].join(',')}\nextendedKeyUsage=serverAuth\n`);
  sign(dir, 'webhook', '/CN=proa-test-webhook', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const [stem, subject] of Object.entries(clients)) sign(dir, stem, subject, 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

/** A kubeconfig (JSON is YAML) for one of `clients`, to the API server at `server`; written to `file` (default: beside the certificates). */
export function kubeconfig(dir: string, stem: keyof typeof clients, server: string, file = join(dir, `${stem}.kubeconfig`)): string {
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'node',
    clusters: [{ name: 'node', cluster: { server, 'certificate-authority': join(dir, 'ca.crt') } }],
    users: [{ name: stem, user: { 'client-certificate': join(dir, `${stem}.crt`), 'client-key': join(dir, `${stem}.key`) } }],
    contexts: [{ name: 'node', context: { cluster: 'node', user: stem } }],
  }, null, 2));
  return file;
}
