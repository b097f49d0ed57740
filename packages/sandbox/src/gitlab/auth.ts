import type { IncomingMessage } from 'node:http';
import { ApiError, Caller } from './api';
import type { GitLab } from './context';
import { findOAuthAccessToken, isOAuthTokenExpired } from './oauth';
import { findByToken } from './secrets';
import type {
  DeployToken,
  GitLabState,
  OAuthAccessToken,
  PersonalAccessToken,
  Project,
  User,
} from './state';

/** Every scope a personal, project or group access token can carry. */
export const TOKEN_SCOPES = [
  'api',
  'read_api',
  'read_user',
  'create_runner',
  'manage_runner',
  'k8s_proxy',
  'read_repository',
  'write_repository',
  'read_registry',
  'write_registry',
  'read_virtual_registry',
  'write_virtual_registry',
  'ai_features',
  'self_rotate',
  'read_observability',
  'write_observability',
] as const;

export const DEPLOY_TOKEN_SCOPES = [
  'read_repository',
  'read_registry',
  'write_registry',
  'read_package_registry',
  'write_package_registry',
  'read_virtual_registry',
  'write_virtual_registry',
] as const;

/** The token of an API request: `PRIVATE-TOKEN`, `Authorization: Bearer`, or the query. */
export function apiTokenOf(req: IncomingMessage, url: URL): string | undefined {
  const privateToken = req.headers['private-token'];
  if (typeof privateToken === 'string' && privateToken) {
    return privateToken;
  }
  const authorization = req.headers.authorization;
  if (authorization && /^Bearer\s+/i.test(authorization)) {
    return authorization.replace(/^Bearer\s+/i, '').trim();
  }
  return (
    url.searchParams.get('private_token') ??
    url.searchParams.get('access_token') ??
    undefined
  );
}

function bearerError(
  status: number,
  error: string,
  description: string,
  extra = {},
): ApiError {
  return new ApiError(
    status,
    { error, error_description: description, ...extra },
    {
      'WWW-Authenticate': `Bearer realm="Protected by OAuth 2.0", error="${error}", error_description="${description}"`,
    },
  );
}

function isExpired(token: PersonalAccessToken, today: string): boolean {
  return token.expiresAt !== null && token.expiresAt <= today;
}

/** GitLab's 401 for a revoked token, OAuth or not. */
function revokedError(): ApiError {
  return bearerError(
    401,
    'invalid_token',
    'Token was revoked. You have to re-authorize from the user profile.',
  );
}

/** An OAuth access token's user, with GitLab's 401 answers for revoked and expired ones. */
function authenticateOAuth(gitlab: GitLab, token: OAuthAccessToken): Caller {
  const user = gitlab.state.users.get(token.userId);
  if (!user) {
    throw new ApiError(401, { message: '401 Unauthorized' });
  }
  if (token.revoked) throw revokedError();
  if (isOAuthTokenExpired(gitlab, token)) {
    throw bearerError(401, 'invalid_token', 'Token has expired.');
  }
  token.lastUsedAt = gitlab.clock.now();
  return { user, token };
}

/**
 * The user behind an API token (a personal, project or group access token, or an OAuth
 * access token), or GitLab's 401 answers for unknown, revoked and expired ones.
 */
export function authenticateApi(gitlab: GitLab, value: string): Caller {
  const { state, clock } = gitlab;
  const token = findByToken(state.personalAccessTokens.values(), value);
  if (!token) {
    const oauthToken = findOAuthAccessToken(gitlab, value);
    if (oauthToken) {
      return authenticateOAuth(gitlab, oauthToken);
    }
  }
  const user = token ? state.users.get(token.userId) : undefined;
  if (!token || !user) {
    throw new ApiError(401, { message: '401 Unauthorized' });
  }
  if (token.revoked) throw revokedError();
  if (isExpired(token, clock.today())) {
    throw bearerError(401, 'invalid_token', 'Token has expired.');
  }
  token.lastUsedAt = clock.now();
  return { user, token };
}

/** 403 `insufficient_scope` unless the token has one of the allowed scopes. */
export function requireScope(caller: Caller, allowed: readonly string[]): void {
  if (!caller.token.scopes.some(scope => allowed.includes(scope))) {
    throw bearerError(
      403,
      'insufficient_scope',
      'The request requires higher privileges than provided by the access token.',
      { scope: allowed.join(' ') },
    );
  }
}

/** Who fetches or pushes over Git HTTP. */
export type GitActor =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: User; canDownload: boolean; canPush: boolean }
  | { kind: 'deploy-token'; token: DeployToken };

/** Which token scopes give which Git abilities (`api` and `read_api` included, as in GitLab). */
const DOWNLOAD_SCOPES = [
  'api',
  'read_api',
  'read_repository',
  'write_repository',
];
const PUSH_SCOPES = ['api', 'write_repository'];

/** Whose Basic credentials were presented: a user through one of their tokens, or a deploy token. */
export type BasicCredentialsOwner =
  | {
      kind: 'user';
      user: User;
      token: PersonalAccessToken | OAuthAccessToken;
    }
  | { kind: 'deploy-token'; token: DeployToken };

/**
 * Authenticates Basic credentials as GitLab does for Git and the container registry: any
 * username with an access token as the password (`oauth2:<token>` included), the username
 * `oauth2` with an OAuth access token, or a deploy token's own username and value.
 * Undefined means they are wrong, expired or revoked.
 */
export function authenticateBasic(
  gitlab: GitLab,
  username: string,
  password: string,
): BasicCredentialsOwner | undefined {
  const { state, clock } = gitlab;
  const deployToken = findByToken(state.deployTokens.values(), password);
  if (deployToken) {
    const usable =
      deployToken.username === username &&
      !deployToken.revoked &&
      (deployToken.expiresAt === null || deployToken.expiresAt > clock.now());
    return usable ? { kind: 'deploy-token', token: deployToken } : undefined;
  }
  const token = findByToken(state.personalAccessTokens.values(), password);
  if (!token && username === 'oauth2') {
    const oauthToken = findOAuthAccessToken(gitlab, password);
    const oauthUser = oauthToken && state.users.get(oauthToken.userId);
    if (
      !oauthToken ||
      !oauthUser ||
      oauthToken.revoked ||
      isOAuthTokenExpired(gitlab, oauthToken)
    ) {
      return undefined;
    }
    oauthToken.lastUsedAt = clock.now();
    return { kind: 'user', user: oauthUser, token: oauthToken };
  }
  const user = token ? state.users.get(token.userId) : undefined;
  if (!token || !user || token.revoked || isExpired(token, clock.today())) {
    return undefined;
  }
  token.lastUsedAt = clock.now();
  return { kind: 'user', user, token };
}

/** Whether a deploy token belongs to the project or to one of its ancestor groups. */
export function deployTokenReaches(
  state: GitLabState,
  token: DeployToken,
  project: Project,
): boolean {
  return (
    token.projectId === project.id ||
    (token.groupId !== undefined &&
      state
        .ancestry(state.namespace(project))
        .some(namespace => namespace.id === token.groupId))
  );
}

/** Authenticates Git over HTTP; undefined means the credentials are wrong, expired or revoked. */
export function authenticateGit(
  gitlab: GitLab,
  authorization: string | undefined,
): GitActor | undefined {
  if (!authorization) {
    return { kind: 'anonymous' };
  }
  const match = /^Basic\s+(.+)$/i.exec(authorization);
  if (!match) {
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    return undefined;
  }
  const owner = authenticateBasic(
    gitlab,
    decoded.slice(0, colon),
    decoded.slice(colon + 1),
  );
  if (owner?.kind !== 'user') {
    return owner;
  }
  const { scopes } = owner.token;
  return {
    kind: 'user',
    user: owner.user,
    canDownload: scopes.some(s => DOWNLOAD_SCOPES.includes(s)),
    canPush: scopes.some(s => PUSH_SCOPES.includes(s)),
  };
}
