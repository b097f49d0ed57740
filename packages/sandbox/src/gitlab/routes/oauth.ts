import { ApiError, ApiResult, Input, RequestContext, Router } from '../api';
import { apiTokenOf } from '../auth';
import type { GitLab } from '../context';
import {
  applicationByUid,
  authenticateClient,
  createAccessGrant,
  exchangeCode,
  findOAuthAccessToken,
  grantedScopes,
  isOAuthTokenExpired,
  OAUTH_ERRORS,
  OAuthErrorCode,
  oauthError,
  refreshAccessToken,
  secondsLeft,
} from '../oauth';
import { findByToken } from '../secrets';
import type { OAuthApplication, User } from '../state';

/** The parameters of an authorization request, carried from the page to its form. */
const AUTHORIZE_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
] as const;

function text(input: Input, name: string): string | undefined {
  const value = input[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function html(status: number, title: string, body: string): ApiResult {
  return {
    status,
    contentType: 'text/html; charset=utf-8',
    headers: { 'Cache-Control': 'no-store' },
    raw: Buffer.from(
      `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto;line-height:1.5}
button{display:block;width:100%;margin:.5rem 0;padding:.6rem;font-size:1rem;cursor:pointer}
.deny{background:none;border:1px solid #999}small{color:#555}</style></head>
<body>
${body}
</body>
</html>
`,
      'utf8',
    ),
  };
}

/** Doorkeeper's error page: for an unknown client or redirect URI nothing is redirected. */
function errorPage(status: number, code: OAuthErrorCode): ApiResult {
  return html(
    status,
    'An error has occurred',
    `<h1>An error has occurred</h1>
<p id="error" data-error="${code}">${escapeHtml(OAUTH_ERRORS[code])}</p>`,
  );
}

function redirect(
  redirectUri: string,
  params: Record<string, string | undefined>,
): ApiResult {
  const location = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) {
      location.searchParams.set(name, value);
    }
  }
  return {
    status: 302,
    contentType: 'text/html; charset=utf-8',
    headers: { Location: location.toString(), 'Cache-Control': 'no-store' },
    raw: Buffer.from(
      `<html><body>You are being <a href="${escapeHtml(
        location.toString(),
      )}">redirected</a>.</body></html>`,
    ),
  };
}

interface AuthorizationRequest {
  application: OAuthApplication;
  redirectUri: string;
  scopes: string[];
  state?: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'plain' | 'S256';
}

/**
 * Validates an authorization request as Doorkeeper's pre-authorization does: an unknown
 * client or a redirect URI the application did not register is an error page (never a
 * redirect); anything else wrong goes back to the client with `error` and `state`.
 */
function preAuthorize(
  gitlab: GitLab,
  input: Input,
): AuthorizationRequest | ApiResult {
  const clientId = text(input, 'client_id');
  const application = clientId ? applicationByUid(gitlab, clientId) : undefined;
  if (!application) {
    return errorPage(401, 'invalid_client');
  }
  const redirectUri = text(input, 'redirect_uri');
  if (!redirectUri || !application.redirectUris.includes(redirectUri)) {
    return errorPage(400, 'invalid_redirect_uri');
  }
  const state = text(input, 'state');
  const fail = (code: OAuthErrorCode, description?: string) =>
    redirect(redirectUri, {
      error: code,
      error_description: description ?? OAUTH_ERRORS[code],
      state,
    });
  const responseType = text(input, 'response_type');
  if (!responseType) {
    return fail(
      'invalid_request',
      'Missing required parameter: response_type.',
    );
  }
  if (responseType !== 'code') {
    return fail('unsupported_response_type');
  }
  const scopes = grantedScopes(application, text(input, 'scope'));
  if (!scopes) {
    return fail('invalid_scope');
  }
  const codeChallenge = text(input, 'code_challenge');
  const method = text(input, 'code_challenge_method') ?? 'plain';
  if (codeChallenge && method !== 'plain' && method !== 'S256') {
    return fail(
      'invalid_request',
      'The code challenge method must be plain or S256.',
    );
  }
  return {
    application,
    redirectUri,
    scopes,
    state,
    codeChallenge,
    codeChallengeMethod: codeChallenge
      ? (method as 'plain' | 'S256')
      : undefined,
  };
}

/** The people one may sign in as: not bots, service accounts or the administrator. */
function signInUsers(gitlab: GitLab): User[] {
  return [...gitlab.state.users.values()].filter(
    user => !user.bot && !user.serviceAccount && !user.admin,
  );
}

function authorizePage(
  input: Input,
  request: AuthorizationRequest,
  users: User[],
  problem?: string,
): ApiResult {
  const hidden = AUTHORIZE_PARAMS.map(name => text(input, name))
    .map((value, i) =>
      value === undefined
        ? ''
        : `<input type="hidden" name="${
            AUTHORIZE_PARAMS[i]
          }" value="${escapeHtml(value)}">`,
    )
    .join('\n');
  const buttons = users
    .map(
      user =>
        `<button type="submit" name="username" value="${escapeHtml(
          user.username,
        )}">${escapeHtml(user.name)} (@${escapeHtml(user.username)})</button>`,
    )
    .join('\n');
  const name = escapeHtml(request.application.name);
  return html(
    problem ? 400 : 200,
    'Sign in to the sandbox GitLab',
    `<h1>Sign in to the sandbox GitLab as \u2026</h1>
<p><strong>${name}</strong> asks to use your account (scopes: ${escapeHtml(
      request.scopes.join(' '),
    )}).</p>
${problem ? `<p role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="post" action="/oauth/authorize">
${hidden}
${buttons}
<button type="submit" class="deny" name="decision" value="deny">Deny</button>
</form>
<p><small>A sandbox: there is no password, and anyone who can reach it can sign in as
any of these people. A real GitLab asks who you are, then whether to authorize the
application.</small></p>`,
  );
}

/**
 * GitLab's OAuth 2.0 provider (`/oauth/authorize`, `/oauth/token`, `/oauth/revoke`,
 * `/oauth/token/info`), as Doorkeeper answers them. Paths are relative to `/oauth/`.
 */
export function oauthRoutes(router: Router, gitlab: GitLab): void {
  router.get('authorize', context => {
    const request = preAuthorize(gitlab, context.input);
    if (!('application' in request)) {
      return request;
    }
    return authorizePage(context.input, request, signInUsers(gitlab));
  });

  // The page's form: the person picked (or the denial) comes back with the request.
  router.post('authorize', context => {
    const request = preAuthorize(gitlab, context.input);
    if (!('application' in request)) {
      return request;
    }
    if (text(context.input, 'decision') === 'deny') {
      return redirect(request.redirectUri, {
        error: 'access_denied',
        error_description: OAUTH_ERRORS.access_denied,
        state: request.state,
      });
    }
    const users = signInUsers(gitlab);
    const username = text(context.input, 'username');
    const user = users.find(u => u.username === username);
    if (!user) {
      return authorizePage(
        context.input,
        request,
        users,
        `No one called "${username ?? ''}" can sign in here.`,
      );
    }
    const code = createAccessGrant(gitlab, { ...request, user });
    return redirect(request.redirectUri, { code, state: request.state });
  });

  router.post('token', context => {
    const { input } = context;
    const grantType = text(input, 'grant_type');
    if (!grantType) {
      throw oauthError(
        'invalid_request',
        'Missing required parameter: grant_type.',
      );
    }
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw oauthError('unsupported_grant_type');
    }
    const application = authenticateClient(
      gitlab,
      context.req.headers.authorization,
      {
        clientId: text(input, 'client_id'),
        clientSecret: text(input, 'client_secret'),
      },
    );
    const body =
      grantType === 'authorization_code'
        ? exchangeCode(gitlab, application, {
            code: text(input, 'code'),
            redirectUri: text(input, 'redirect_uri'),
            codeVerifier: text(input, 'code_verifier'),
          })
        : refreshAccessToken(gitlab, application, text(input, 'refresh_token'));
    return {
      body,
      headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    };
  });

  // RFC 7009: the answer is the same whether or not the token existed.
  router.post('revoke', context => {
    const application = authenticateClient(
      gitlab,
      context.req.headers.authorization,
      {
        clientId: text(context.input, 'client_id'),
        clientSecret: text(context.input, 'client_secret'),
      },
    );
    const value = text(context.input, 'token');
    if (!value) {
      throw oauthError('invalid_request', 'Missing required parameter: token.');
    }
    const tokens = [...gitlab.state.oauthAccessTokens.values()];
    const token =
      findByToken(tokens, value) ??
      findByToken(
        tokens.map(t => ({ t, digest: t.refreshDigest })),
        value,
      )?.t;
    if (token && token.applicationId === application.id) {
      token.revoked = true;
    }
    return { body: {} };
  });

  router.get('token/info', (context: RequestContext) => {
    const value = apiTokenOf(context.req, context.url);
    const token = value ? findOAuthAccessToken(gitlab, value) : undefined;
    if (!token || token.revoked || isOAuthTokenExpired(gitlab, token)) {
      throw new ApiError(401, {
        error: 'invalid_token',
        error_description: 'The access token is invalid',
      });
    }
    const application = gitlab.state.oauthApplications.get(token.applicationId);
    const left = secondsLeft(gitlab, token);
    return {
      body: {
        resource_owner_id: token.userId,
        scope: token.scopes,
        expires_in: left,
        application: { uid: application?.uid ?? null },
        created_at: Math.floor(token.createdAt.getTime() / 1000),
        scopes: token.scopes,
        expires_in_seconds: left,
      },
    };
  });
}
