import { TokenUsage } from '@backstage-gitops/plugin-gitops-common';
import { createHash } from 'node:crypto';
import { utils as sshUtils } from 'ssh2';
import { z } from 'zod';

/**
 * A credential found in a Secret. `value` is the secret itself: it is used to compute
 * the fingerprint and to ask the Git host who it is, and never leaves this process.
 */
export interface FoundCredential {
  format: TokenUsage['format'];
  /** The Secret key(s) it was read from. */
  key: string;
  value: string;
  username?: string;
  /** docker-config: the registry host of the entry. */
  registry?: string;
}

const dockerConfigSchema = z.object({
  auths: z.record(
    z.object({
      username: z.string().optional(),
      password: z.string().optional(),
      auth: z.string().optional(),
    }),
  ),
});

function decode(data: Record<string, string> | undefined, key: string) {
  const value = data?.[key];
  return value === undefined
    ? undefined
    : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * The credentials in a Secret's `data`, the way Flux reads them: `username`/`password`
 * (basic auth), `bearerToken`, `token` (a notification Provider), `identity` (SSH) and
 * `.dockerconfigjson` (one per registry). Malformed content yields nothing.
 */
export function credentialsInSecret(
  data: Record<string, string> | undefined,
): FoundCredential[] {
  const found: FoundCredential[] = [];
  const username = decode(data, 'username');
  const password = decode(data, 'password');
  if (password) {
    found.push({
      format: 'basic-auth',
      key: 'password',
      value: password,
      username,
    });
  }
  const bearer = decode(data, 'bearerToken');
  if (bearer) {
    found.push({ format: 'bearer-token', key: 'bearerToken', value: bearer });
  }
  const token = decode(data, 'token');
  if (token) found.push({ format: 'token', key: 'token', value: token });
  const identity = decode(data, 'identity');
  if (identity) {
    found.push({ format: 'ssh-key', key: 'identity', value: identity });
  }
  const dockerConfig = decode(data, '.dockerconfigjson');
  if (dockerConfig) {
    let parsed: z.infer<typeof dockerConfigSchema> | undefined;
    try {
      parsed = dockerConfigSchema.parse(JSON.parse(dockerConfig));
    } catch {
      parsed = undefined;
    }
    for (const [registry, entry] of Object.entries(parsed?.auths ?? {})) {
      let user = entry.username;
      let secret = entry.password;
      if (!secret && entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          user = decoded.slice(0, colon);
          secret = decoded.slice(colon + 1);
        }
      }
      if (secret) {
        found.push({
          format: 'docker-config',
          key: '.dockerconfigjson',
          value: secret,
          username: user,
          registry: registry.replace(/^https?:\/\//, '').replace(/\/.*$/, ''),
        });
      }
    }
  }
  return found;
}

/**
 * `sha256:<hex>` of a secret value; for an SSH private key, of its public key blob, so it
 * matches what the Git host shows of a deploy key.
 */
export function fingerprintOf(credential: FoundCredential): string {
  if (credential.format === 'ssh-key') {
    const blob = sshPublicBlob(credential.value);
    if (blob)
      return `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  }
  return `sha256:${createHash('sha256')
    .update(credential.value)
    .digest('hex')}`;
}

/** GitLab's and GitHub's `SHA256:<base64>` fingerprint of an SSH private key's public key. */
export function sshFingerprintSha256(privateKey: string): string | undefined {
  const blob = sshPublicBlob(privateKey);
  return blob
    ? `SHA256:${createHash('sha256')
        .update(blob)
        .digest('base64')
        .replace(/=+$/, '')}`
    : undefined;
}

function sshPublicBlob(privateKey: string): Buffer | undefined {
  const parsed = sshUtils.parseKey(privateKey);
  if (!parsed || parsed instanceof Error) return undefined;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key?.getPublicSSH();
}
