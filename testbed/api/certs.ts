// A CA and a server certificate made at test time with openssl, as a cluster's CA signs
// the API server's certificate for the service IP and kubernetes.default.svc.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../paths.ts';

export interface Certs {
  ca: string;
  key: string;
  cert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

let cached: Certs | undefined;

/** A CA and a server certificate for 127.0.0.1, ::1, localhost and kubernetes.default.svc. */
export function clusterCerts(): Certs {
  if (cached) return cached;
  const dir = tempDir('proa-certs-');
  makeCa(dir, 'ca');
  writeFileSync(join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n' +
    'extendedKeyUsage=serverAuth\n');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext']);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  cached = { ca: read('ca.crt'), key: read('server.key'), cert: read('server.crt') };
  return cached;
}

/** A CA that did not sign the server's certificate. */
export function otherCa(): string {
  const dir = tempDir('proa-certs-');
  makeCa(dir, 'other');
  return readFileSync(join(dir, 'other.crt'), 'utf8');
}
