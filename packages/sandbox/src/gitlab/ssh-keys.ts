import { createHash } from 'node:crypto';

const KEY_TYPES = [
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ssh-ed25519@openssh.com',
];

export interface SshPublicKey {
  type: string;
  /** The decoded key blob. */
  blob: Buffer;
  /** MD5, colon-separated hex: `4a:9d:64:...`. */
  fingerprint: string;
  /** `SHA256:` + unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it. */
  fingerprintSha256: string;
}

/**
 * Parses an OpenSSH public key line (`<type> <base64> [comment]`); undefined when it is
 * not one (unknown type, bad base64, or a blob whose embedded type differs).
 */
export function parseSshPublicKey(line: string): SshPublicKey | undefined {
  const [type, data] = line.trim().split(/\s+/);
  if (
    !type ||
    !data ||
    !KEY_TYPES.includes(type) ||
    !/^[A-Za-z0-9+/]+={0,2}$/.test(data)
  ) {
    return undefined;
  }
  const blob = Buffer.from(data, 'base64');
  if (blob.length < 4) {
    return undefined;
  }
  const typeLength = blob.readUInt32BE(0);
  if (
    4 + typeLength > blob.length ||
    blob.subarray(4, 4 + typeLength).toString() !== type
  ) {
    return undefined;
  }
  const md5 = createHash('md5').update(blob).digest('hex');
  return {
    type,
    blob,
    fingerprint: md5.match(/../g)!.join(':'),
    fingerprintSha256: `SHA256:${createHash('sha256')
      .update(blob)
      .digest('base64')
      .replace(/=+$/, '')}`,
  };
}
