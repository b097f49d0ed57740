import { createHash, randomBytes } from 'node:crypto';
import { ApiError, validationError } from './api';
import type { GitLab } from './context';
import { digestToken, findByToken } from './secrets';
import type {
  OAuthAccessGrant,
  OAuthAccessToken,
  OAuthApplication,
  User,
} from './state';

/** The scopes an OAuth application may be granted (GitLab's OAuth scope list). */
export const OAUTH_SCOPES = [
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
  'read_observability',
  'write_observability',
  'ai_features',
  'sudo',
  'admin_mode',
  'openid',
  'profile',
  'email',
] as const;

/** Doorkeeper's default scope in GitLab, used when an authorization request names none. */
const DEFAULT_SCOPES = ['api'];

/** An authorization code lives 10 minutes (Doorkeeper's `authorization_code_expires_in`). */
export const ACCESS_GRANT_LIFETIME_SECONDS = 600;
/** GitLab's OAuth access tokens expire after two hours. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 7200;

/** Doorkeeper's error descriptions (`config/locales/doorkeeper.en.yml`). */
export const OAUTH_ERRORS = {
  invalid_request:
    'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.',
  invalid_redirect_uri:
    "The requested redirect uri is malformed or doesn't match client redirect URI.",
  invalid_client:
    'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  invalid_grant:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  unsupported_grant_type:
    'The authorization grant type is not supported by the authorization server.',
  unsupported_response_type:
    'The authorization server does not support this response type.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  access_denied:
    'The resource owner or authorization server denied the request.',
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/** The token endpoint's error answer: `{"error": …, "error_description": …}`. */
export function oauthError(
  code: OAuthErrorCode,
  description: string = OAUTH_ERRORS[code],
): ApiError {
  const status = code === 'invalid_client' ? 401 : 400;
  return new ApiError(
    status,
    { error: code, error_description: description },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
  );
}

/** A random secret as GitLab's Doorkeeper makes them: 64 hex characters. */
function hexSecret(): string {
  return randomBytes(32).toString('hex');
}

/** Registers an OAuth application; the secret (`gloas-` + 64 hex) is returned only here. */
export function createOAuthApplication(
  gitlab: GitLab,
  input: {
    name: string;
    redirectUris: string[];
    scopes: string[];
    confidential?: boolean;
  },
): { record: OAuthApplication; secret: string } {
  const { state, clock } = gitlab;
  const errors: Record<string, string[]> = {};
  if (!input.name.trim()) {
    errors.name = ["can't be blank"];
  }
  if (input.redirectUris.length === 0) {
    errors.redirect_uri = ["can't be blank"];
  } else if (input.redirectUris.some(uri => !isValidRedirectUri(uri))) {
    errors.redirect_uri = ['must be an absolute URI.'];
  }
  if (
    input.scopes.length === 0 ||
    input.scopes.some(s => !(OAUTH_SCOPES as readonly string[]).includes(s))
  ) {
    errors.scopes = ['doesn\u2019t match configured on the server.'];
  }
  if (Object.keys(errors).length > 0) {
    throw validationError(errors);
  }
  const secret = `gloas-${hexSecret()}`;
  const record: OAuthApplication = {
    id: state.nextId('oauth_application'),
    uid: hexSecret(),
    name: input.name,
    redirectUris: [...input.redirectUris],
    scopes: [...input.scopes],
    confidential: input.confidential ?? true,
    createdAt: clock.now(),
    digest: digestToken(secret),
  };
  state.oauthApplications.set(record.id, record);
  return { record, secret };
}

/** Schemes GitLab refuses in a redirect URI (native apps may use their own schemes). */
const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'vbscript']);

/** An absolute URI without a fragment, not in a script scheme (as Doorkeeper validates). */
function isValidRedirectUri(uri: string): boolean {
  try {
    const url = new URL(uri);
    return !FORBIDDEN_SCHEMES.has(url.protocol.slice(0, -1)) && !url.hash;
  } catch {
    return false;
  }
}

export function applicationByUid(
  gitlab: GitLab,
  uid: string,
): OAuthApplication | undefined {
  return [...gitlab.state.oauthApplications.values()].find(
    app => app.uid === uid,
  );
}

/** The application's check of a requested scope string (space separated); undefined if invalid. */
export function grantedScopes(
  application: OAuthApplication,
  requested: string | undefined,
): string[] | undefined {
  const scopes = requested?.trim()
    ? requested.trim().split(/\s+/)
    : DEFAULT_SCOPES;
  return scopes.every(scope => application.scopes.includes(scope))
    ? [...new Set(scopes)]
    : undefined;
}

/** Issues an authorization code for the user, to be exchanged at the token endpoint. */
export function createAccessGrant(
  gitlab: GitLab,
  input: {
    application: OAuthApplication;
    user: User;
    redirectUri: string;
    scopes: string[];
    codeChallenge?: string;
    codeChallengeMethod?: 'plain' | 'S256';
  },
): string {
  const { state, clock } = gitlab;
  const code = hexSecret();
  const grant: OAuthAccessGrant = {
    id: state.nextId('oauth_access_grant'),
    applicationId: input.application.id,
    userId: input.user.id,
    redirectUri: input.redirectUri,
    scopes: input.scopes,
    createdAt: clock.now(),
    expiresInSeconds: ACCESS_GRANT_LIFETIME_SECONDS,
    revoked: false,
    codeChallenge: input.codeChallenge,
    codeChallengeMethod: input.codeChallengeMethod,
    digest: digestToken(code),
  };
  state.oauthAccessGrants.set(grant.id, grant);
  return code;
}

function expired(
  gitlab: GitLab,
  record: { createdAt: Date; expiresInSeconds: number },
): boolean {
  return (
    gitlab.clock.now().getTime() >=
    record.createdAt.getTime() + record.expiresInSeconds * 1000
  );
}

/**
 * The client of a token request, authenticated by HTTP Basic or by `client_id` and
 * `client_secret` in the body; a public application may present its id alone.
 */
export function authenticateClient(
  gitlab: GitLab,
  authorization: string | undefined,
  body: { clientId?: string; clientSecret?: string },
): OAuthApplication {
  let clientId = body.clientId;
  let clientSecret = body.clientSecret;
  const basic = authorization && /^Basic\s+(.+)$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw oauthError('invalid_client');
    }
    clientId = decodeURIComponent(decoded.slice(0, colon));
    clientSecret = decodeURIComponent(decoded.slice(colon + 1));
  }
  const application = clientId ? applicationByUid(gitlab, clientId) : undefined;
  if (!application) {
    throw oauthError('invalid_client');
  }
  if (clientSecret !== undefined && clientSecret !== '') {
    if (!findByToken([application], clientSecret)) {
      throw oauthError('invalid_client');
    }
  } else if (application.confidential) {
    throw oauthError('invalid_client');
  }
  return application;
}

/** The token endpoint's success answer, as GitLab sends it. */
export interface OAuthTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
  created_at: number;
}

function issueAccessToken(
  gitlab: GitLab,
  application: OAuthApplication,
  userId: number,
  scopes: string[],
): OAuthTokenResponse {
  const { state, clock } = gitlab;
  const accessToken = hexSecret();
  const refreshToken = hexSecret();
  const record: OAuthAccessToken = {
    id: state.nextId('oauth_access_token'),
    applicationId: application.id,
    userId,
    scopes: [...scopes],
    createdAt: clock.now(),
    expiresInSeconds: ACCESS_TOKEN_LIFETIME_SECONDS,
    revoked: false,
    lastUsedAt: null,
    digest: digestToken(accessToken),
    refreshDigest: digestToken(refreshToken),
  };
  state.oauthAccessTokens.set(record.id, record);
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
    refresh_token: refreshToken,
    scope: scopes.join(' '),
    created_at: Math.floor(record.createdAt.getTime() / 1000),
  };
}

function verifyCodeChallenge(
  grant: OAuthAccessGrant,
  verifier: string | undefined,
): boolean {
  if (!grant.codeChallenge) {
    return true;
  }
  if (!verifier) {
    return false;
  }
  const computed =
    grant.codeChallengeMethod === 'S256'
      ? createHash('sha256').update(verifier).digest('base64url')
      : verifier;
  return computed === grant.codeChallenge;
}

/** `grant_type=authorization_code`: a code, once, by the client it was issued to. */
export function exchangeCode(
  gitlab: GitLab,
  application: OAuthApplication,
  input: { code?: string; redirectUri?: string; codeVerifier?: string },
): OAuthTokenResponse {
  if (!input.code) {
    throw oauthError('invalid_request', 'Missing required parameter: code.');
  }
  const grant = findByToken(
    gitlab.state.oauthAccessGrants.values(),
    input.code,
  );
  if (
    !grant ||
    grant.revoked ||
    expired(gitlab, grant) ||
    grant.applicationId !== application.id ||
    grant.redirectUri !== input.redirectUri ||
    !verifyCodeChallenge(grant, input.codeVerifier)
  ) {
    throw oauthError('invalid_grant');
  }
  grant.revoked = true;
  return issueAccessToken(gitlab, application, grant.userId, grant.scopes);
}

/**
 * `grant_type=refresh_token`: a new access token and refresh token with the same scopes;
 * the old pair is revoked, so a refresh token works once.
 */
export function refreshAccessToken(
  gitlab: GitLab,
  application: OAuthApplication,
  refreshToken: string | undefined,
): OAuthTokenResponse {
  if (!refreshToken) {
    throw oauthError(
      'invalid_request',
      'Missing required parameter: refresh_token.',
    );
  }
  const previous = findByToken(
    [...gitlab.state.oauthAccessTokens.values()].map(token => ({
      token,
      digest: token.refreshDigest,
    })),
    refreshToken,
  )?.token;
  if (
    !previous ||
    previous.revoked ||
    previous.applicationId !== application.id ||
    !gitlab.state.users.has(previous.userId)
  ) {
    throw oauthError('invalid_grant');
  }
  previous.revoked = true;
  return issueAccessToken(
    gitlab,
    application,
    previous.userId,
    previous.scopes,
  );
}

/** The OAuth access token with this value, whether or not it is still usable. */
export function findOAuthAccessToken(
  gitlab: GitLab,
  value: string,
): OAuthAccessToken | undefined {
  return findByToken(gitlab.state.oauthAccessTokens.values(), value);
}

/** Whether an OAuth access token has passed its `expires_in`. */
export function isOAuthTokenExpired(
  gitlab: GitLab,
  token: OAuthAccessToken,
): boolean {
  return expired(gitlab, token);
}

/** Seconds left before an OAuth access token expires (0 once expired). */
export function secondsLeft(gitlab: GitLab, token: OAuthAccessToken): number {
  const left =
    token.createdAt.getTime() +
    token.expiresInSeconds * 1000 -
    gitlab.clock.now().getTime();
  return Math.max(0, Math.floor(left / 1000));
}
