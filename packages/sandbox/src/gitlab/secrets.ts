import {
  createHash,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';

const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A new secret token value with GitLab's prefix (`glpat-`, `gldt-`), 20 random characters. */
export function generateToken(prefix: string): string {
  const bytes = randomBytes(20);
  let value = '';
  for (const byte of bytes) {
    value += ALPHABET[byte % ALPHABET.length];
  }
  return `${prefix}${value}`;
}

/** Token values are only ever kept as this digest. */
export function digestToken(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The record whose digest matches the presented value. Every record is compared in
 * constant time and the loop never stops early, so timing reveals nothing about which
 * (or whether a) stored token is close to the presented one.
 */
export function findByToken<T extends { digest: Buffer }>(
  records: Iterable<T>,
  value: string,
): T | undefined {
  const presented = digestToken(value);
  let found: T | undefined;
  for (const record of records) {
    if (timingSafeEqual(record.digest, presented)) {
      found = record;
    }
  }
  return found;
}

export function uuid(): string {
  return randomUUID();
}
