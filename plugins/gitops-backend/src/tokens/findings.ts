import {
  TokenFinding,
  TokenRecord,
} from '@backstage-gitops/plugin-gitops-common';

const WRITE_SCOPES = [
  'write_repository',
  'write_registry',
  'write_package_registry',
];
const DAY_MS = 24 * 60 * 60 * 1000;

/** Which least-privilege credential fits the uses of a token. */
function recommendedFor(token: TokenRecord): string {
  if (token.usages.every(u => u.purpose === 'commit-status')) {
    return 'a project access token with only the api scope, on that project';
  }
  if (token.usages.some(u => u.format === 'ssh-key')) {
    return 'a read-only deploy key per project';
  }
  return 'a project deploy token with read_repository/read_registry';
}

/**
 * The token report: for each credential what is wrong with it and what to use instead.
 * `expiringWithinDays` sets how early an expiry is flagged.
 */
export function tokenFindings(
  tokens: TokenRecord[],
  options: { now: Date; expiringWithinDays: number },
): TokenFinding[] {
  const findings: TokenFinding[] = [];
  for (const token of tokens) {
    const add = (finding: Omit<TokenFinding, 'tokenId'>) =>
      findings.push({ tokenId: token.id, ...finding });
    const label = token.name ? `"${token.name}"` : 'this credential';
    const reads = token.usages.some(u => u.purpose === 'read');
    const scopes = token.scopes ?? [];

    if (token.kind === 'unknown') {
      add({
        severity: 'warning',
        type: 'unknown-secret',
        message: `A Secret holds a credential the Git host does not know (revoked, expired, of another host, or a password): ${token.usages
          .map(u => `${u.cluster}/${u.namespace}/${u.secret}`)
          .join(', ')}`,
        recommendation: `Replace it with ${recommendedFor(
          token,
        )} created by the backend, or remove the Secret if nothing needs it.`,
      });
    }
    if (token.expiresAt) {
      const expires = Date.parse(token.expiresAt);
      const days = Math.floor((expires - options.now.getTime()) / DAY_MS);
      if (expires <= options.now.getTime()) {
        add({
          severity: 'critical',
          type: 'expired',
          message: `${label} expired on ${token.expiresAt}: Flux can no longer use it.`,
          recommendation: 'Rotate it now.',
        });
      } else if (days <= options.expiringWithinDays) {
        add({
          severity: 'warning',
          type: 'expiring',
          message: `${label} expires on ${token.expiresAt}, in ${days} day(s).`,
          recommendation:
            'Rotate it before then (the backend can do it on a schedule).',
        });
      }
    }
    if (
      reads &&
      token.usages.every(u => u.purpose === 'read') &&
      (token.canPush || scopes.some(s => WRITE_SCOPES.includes(s)))
    ) {
      add({
        severity: 'critical',
        type: 'write-access',
        message: `${label} can write (${
          token.canPush ? 'deploy key with push access' : scopes.join(', ')
        }), but Flux only reads with it.`,
        recommendation: `Use ${recommendedFor(token)}.`,
      });
    }
    if (scopes.includes('api') && reads) {
      add({
        severity: 'critical',
        type: 'api-scope',
        message: `${label} has the api scope (full API access) and is used to read ${token.usages
          .filter(u => u.purpose === 'read')
          .map(u => `${u.object.kind} ${u.object.name} on ${u.cluster}`)
          .join(', ')}.`,
        recommendation: `Keep api for commit status only; read with ${recommendedFor(
          {
            ...token,
            usages: token.usages.filter(u => u.purpose === 'read'),
          },
        )}.`,
      });
    }
    if (token.kind === 'personal-access-token') {
      add({
        severity: 'warning',
        type: 'personal-token',
        message: `${label} is a personal access token: it acts as its user, on everything the user can reach, and breaks when the user leaves.`,
        recommendation: `Use ${recommendedFor(token)}.`,
      });
    }
    if (token.projects.length > 1) {
      add({
        severity: 'warning',
        type: 'shared',
        message: `${label} is used for ${
          token.projects.length
        } projects (${token.projects.join(', ')}): one leak exposes them all.`,
        recommendation: 'Give each project its own credential.',
      });
    }
  }
  return findings;
}
