import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes,
} from 'crypto';

const VERSION = 'v1';

/**
 * Encrypts cluster tokens at rest with AES-256-GCM. The key is derived from
 * `gitops.encryptionSecret` with HKDF; the cluster name is bound as associated data,
 * so a ciphertext copied to another row does not decrypt.
 */
export class TokenCipher {
  static readonly MIN_SECRET_LENGTH = 32;

  static fromSecret(secret: string): TokenCipher {
    if (secret.length < TokenCipher.MIN_SECRET_LENGTH) {
      throw new Error(
        `gitops.encryptionSecret must be at least ${TokenCipher.MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`,
      );
    }
    const key = Buffer.from(
      hkdfSync(
        'sha256',
        secret,
        'backstage-gitops',
        'gitops cluster token v1',
        32,
      ),
    );
    return new TokenCipher(key);
  }

  private constructor(private readonly key: Buffer) {}

  encrypt(plaintext: string, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([
      cipher.update(plaintext, 'utf8'),
      cipher.final(),
    ]);
    return [VERSION, iv, cipher.getAuthTag(), ciphertext]
      .map(part =>
        typeof part === 'string' ? part : part.toString('base64url'),
      )
      .join('.');
  }

  /** Throws when the payload was not made by this key for this associated data. */
  decrypt(payload: string, associatedData: string): string {
    const [version, iv, tag, ciphertext] = payload.split('.');
    if (version !== VERSION || !iv || !tag || ciphertext === undefined) {
      throw new Error('Unsupported encrypted token format');
    }
    const decipher = createDecipheriv(
      'aes-256-gcm',
      this.key,
      Buffer.from(iv, 'base64url'),
    );
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }
}
