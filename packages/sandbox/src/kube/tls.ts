import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM material an HTTPS API server is started with. */
export interface KubeTlsMaterial {
  /** The cluster CA certificate that signed `cert`. */
  ca: string;
  /** The API server certificate. */
  cert: string;
  /** The API server private key. */
  key: string;
}

/** The sandbox's certificates only live as long as a test or a demo run. */
const VALIDITY_DAYS = '30';

/**
 * A self-contained OpenSSL config, so the result does not depend on the system's
 * openssl.cnf. The extensions follow kubeadm's cluster CA and API server serving
 * certificate (with EC keys, so no keyEncipherment).
 */
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no

[dn]
CN = placeholder

[cluster_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[apiserver]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

export interface KubeTlsOptions {
  /** The OpenSSL CLI to run. Default `openssl`, found on PATH. */
  opensslCommand?: string;
}

function runOpenssl(
  command: string,
  args: string[],
  cwd: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd }, (error, _stdout, stderr) => {
      if (!error) {
        resolve();
      } else if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new Error(
            `TLS for the sandbox Kubernetes API server needs the \`openssl\` command line tool (${command} not found); ` +
              'install the `openssl` package (e.g. `apt-get install openssl`)',
          ),
        );
      } else {
        reject(
          new Error(
            `openssl ${args[0]} failed: ${
              String(stderr).trim() || error.message
            }`,
          ),
        );
      }
    });
  });
}

/**
 * A throwaway cluster CA and an API server certificate for 127.0.0.1 signed by it,
 * made with the `openssl` CLI in a private temp dir that is removed afterwards.
 */
export async function generateKubeTls(
  options: KubeTlsOptions = {},
): Promise<KubeTlsMaterial> {
  const command = options.opensslCommand ?? 'openssl';
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-kube-tls-'));
  const openssl = (args: string[]) => runOpenssl(command, args, dir);
  try {
    await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
    await openssl([
      'req',
      '-x509',
      ...EC_KEY,
      '-nodes',
      '-config',
      'openssl.cnf',
      '-extensions',
      'cluster_ca',
      '-subj',
      '/CN=sandbox-kubernetes-ca',
      '-days',
      VALIDITY_DAYS,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ]);
    await openssl([
      'req',
      '-new',
      ...EC_KEY,
      '-nodes',
      '-config',
      'openssl.cnf',
      '-subj',
      '/CN=kube-apiserver',
      '-keyout',
      'apiserver.key',
      '-out',
      'apiserver.csr',
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      // A random serial: clients may cache certificates by issuer and serial.
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      VALIDITY_DAYS,
      '-extfile',
      'openssl.cnf',
      '-extensions',
      'apiserver',
      '-out',
      'apiserver.crt',
    ]);
    const [ca, cert, key] = await Promise.all(
      ['ca.crt', 'apiserver.crt', 'apiserver.key'].map(file =>
        readFile(join(dir, file), 'utf8'),
      ),
    );
    return { ca, cert, key };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A CA as a kubeconfig's `certificate-authority-data`: its PEM, base64-encoded. */
export function certificateAuthorityData(caPem: string): string {
  return Buffer.from(caPem, 'utf8').toString('base64');
}
