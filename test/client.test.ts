// Server identity checks for the API client, on a certificate made by the test CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { verifyServerIdentity } from '../src/kube/client.ts';
import { clusterCerts } from '../testbed/api/certs.ts';

function peer(): PeerCertificate {
  const x = new X509Certificate(clusterCerts().cert);
  return { subjectaltname: x.subjectAltName, subject: { CN: 'kube-apiserver' } } as unknown as PeerCertificate;
}

test('IP literals match the certificate\'s IP SANs exactly, IPv6 in any spelling', () => {
  assert.equal(verifyServerIdentity('127.0.0.1', peer()), undefined);
  assert.equal(verifyServerIdentity('::1', peer()), undefined);
  assert.equal(verifyServerIdentity('0:0:0:0:0:0:0:1', peer()), undefined);
  assert.equal((verifyServerIdentity('127.0.0.2', peer()) as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal((verifyServerIdentity('fd00::1', peer()) as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('names go through Node\'s own check', () => {
  assert.equal(verifyServerIdentity('kubernetes.default.svc', peer()), undefined);
  assert.ok(verifyServerIdentity('evil.example', peer()) instanceof Error);
});
