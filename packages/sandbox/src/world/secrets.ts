import { randomBytes } from 'node:crypto';

/** A random bearer token, prefixed so a leaked one says where it came from. */
export function randomToken(prefix: string): string {
  return `${prefix}-${randomBytes(24).toString('base64url')}`;
}
