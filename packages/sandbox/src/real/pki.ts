import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The files of a real cluster's PKI, in its folder. */
export interface RealClusterPki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** Signs and verifies service account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** The CA's PEM. */
  caPem: string;
}

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:10.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
`;

/**
 * A cluster CA, the API server's serving certificate, an administrator's client
 * certificate (`O=system:masters`, as kubeadm's admin.conf) and the service account
 * signing key, made with the `openssl` CLI into `dir`.
 */
export async function makeClusterPki(dir: string): Promise<RealClusterPki> {
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await writeFile(join(dir, 'openssl.cnf'), CONFIG);
  const rsa = ['-newkey', 'rsa:2048'];
  await openssl([
    'req',
    '-x509',
    ...rsa,
    '-nodes',
    '-config',
    'openssl.cnf',
    '-extensions',
    'ca',
    '-subj',
    '/CN=testworld-ca',
    '-days',
    '30',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  ]);
  const signed = async (name: string, subject: string, extensions: string) => {
    await openssl([
      'req',
      '-new',
      ...rsa,
      '-nodes',
      '-config',
      'openssl.cnf',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '30',
      '-extfile',
      'openssl.cnf',
      '-extensions',
      extensions,
      '-out',
      `${name}.crt`,
    ]);
  };
  await signed('apiserver', '/CN=kube-apiserver', 'server');
  await signed('admin', '/O=system:masters/CN=kubernetes-admin', 'client');
  await openssl(['genrsa', '-out', 'sa.key', '2048']);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const at = (file: string) => join(dir, file);
  return {
    caCert: at('ca.crt'),
    caKey: at('ca.key'),
    serverCert: at('apiserver.crt'),
    serverKey: at('apiserver.key'),
    adminCert: at('admin.crt'),
    adminKey: at('admin.key'),
    serviceAccountKey: at('sa.key'),
    serviceAccountPub: at('sa.pub'),
    caPem: await readFile(at('ca.crt'), 'utf8'),
  };
}
