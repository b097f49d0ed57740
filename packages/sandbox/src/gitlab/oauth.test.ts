import { Gitlab } from '@gitbeaker/rest';
import { createHash, randomBytes } from 'node:crypto';
import { OAuthApplicationSummary, RunningGitLab, startGitLab } from '.';

const REDIRECT_URI = 'http://localhost:7007/api/auth/gitlab/handler/frame';

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    body = JSON.parse(text);
  }
  return { status: response.status, body, headers: response.headers };
}

/** What a browser does on the sign-in page: posts the form with the person picked. */
async function pickUser(
  gitlab: RunningGitLab,
  params: Record<string, string>,
): Promise<Answer> {
  return answer(
    await fetch(`${gitlab.url}/oauth/authorize`, {
      method: 'POST',
      body: new URLSearchParams(params),
      redirect: 'manual',
    }),
  );
}

/** The token endpoint, with the client's credentials in the form body (as passport does). */
async function token(
  gitlab: RunningGitLab,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return answer(
    await fetch(`${gitlab.url}/oauth/token`, {
      method: 'POST',
      headers,
      body: new URLSearchParams(params),
    }),
  );
}

async function getUser(gitlab: RunningGitLab, accessToken: string) {
  return answer(
    await fetch(`${gitlab.url}/api/v4/user`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    }),
  );
}

describe('GitLab as an OAuth 2.0 provider', () => {
  let gitlab: RunningGitLab;
  let app: OAuthApplicationSummary;

  /** The authorization request Backstage's GitLab provider sends. */
  const authorizeParams = (extra: Record<string, string> = {}) => ({
    response_type: 'code',
    client_id: app.clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'read_user',
    state: 'opaque-state',
    ...extra,
  });

  /** Signs `username` in and returns the code the client receives. */
  async function authorize(
    username: string,
    extra: Record<string, string> = {},
  ): Promise<string> {
    const picked = await pickUser(gitlab, {
      ...authorizeParams(extra),
      username,
    });
    expect(picked.status).toBe(302);
    const location = new URL(picked.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('opaque-state');
    return location.searchParams.get('code')!;
  }

  const exchange = (code: string, extra: Record<string, string> = {}) =>
    token(gitlab, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      client_id: app.clientId,
      client_secret: app.clientSecret,
      ...extra,
    });

  beforeEach(async () => {
    gitlab = await startGitLab();
    gitlab.api.createUser({ username: 'alice', name: 'Alice' });
    gitlab.api.createUser({ username: 'bob', name: 'Bob' });
    gitlab.api.createUser({ username: 'ci-bot', serviceAccount: true });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    await gitlab.api.createProject({
      namespace: 'platform',
      path: 'fleet',
      files: { 'README.md': '# Fleet\n' },
    });
    gitlab.api.createProjectAccessToken('platform/fleet', { scopes: ['api'] });
    app = gitlab.api.createOAuthApplication({
      name: 'Backstage',
      redirectUris: [REDIRECT_URI],
      scopes: ['read_user', 'api'],
    });
  });

  afterEach(async () => {
    await gitlab.stop();
  });

  it('signs a person in: authorize page, code, token, then /api/v4/user as them', async () => {
    const page = await answer(
      await fetch(
        `${gitlab.url}/oauth/authorize?${new URLSearchParams(
          authorizeParams(),
        )}`,
      ),
    );
    expect(page.status).toBe(200);
    expect(page.body).toContain('Sign in to the sandbox GitLab as');
    expect(page.body).toContain('Backstage');
    // People only: not the administrator, bots or service accounts.
    const offered = [
      ...(page.body as string).matchAll(/name="username" value="([^"]+)"/g),
    ].map(match => match[1]);
    expect(offered).toEqual(['alice', 'bob']);

    const code = await authorize('alice');
    const granted = await exchange(code);
    expect(granted.status).toBe(200);
    expect(granted.headers.get('cache-control')).toBe('no-store');
    expect(granted.body).toEqual({
      access_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      scope: 'read_user',
      created_at: expect.any(Number),
    });

    const user = await getUser(gitlab, granted.body.access_token);
    expect(user.status).toBe(200);
    expect(user.body).toMatchObject({
      username: 'alice',
      name: 'Alice',
      email: 'alice@example.com',
      state: 'active',
      web_url: `${gitlab.url}/alice`,
    });
    expect(user.body.id).toEqual(expect.any(Number));
    expect(user.body).toHaveProperty('avatar_url');

    // The token has its scopes, no more: read_user cannot read projects.
    const projects = await answer(
      await fetch(`${gitlab.url}/api/v4/projects/platform%2Ffleet`, {
        headers: { Authorization: `Bearer ${granted.body.access_token}` },
      }),
    );
    expect(projects.status).toBe(403);
    expect(projects.body.error).toBe('insufficient_scope');

    const info = await answer(
      await fetch(`${gitlab.url}/oauth/token/info`, {
        headers: { Authorization: `Bearer ${granted.body.access_token}` },
      }),
    );
    expect(info.body).toMatchObject({
      scope: ['read_user'],
      application: { uid: app.clientId },
      expires_in_seconds: expect.any(Number),
    });
  });

  it('an api-scoped OAuth token works on the REST API and for Git as the user', async () => {
    const code = await authorize('alice', { scope: 'api' });
    const { access_token: accessToken } = (await exchange(code)).body;
    const alice = new Gitlab({ host: gitlab.url, oauthToken: accessToken });
    expect(await alice.Projects.show('platform/fleet')).toMatchObject({
      path_with_namespace: 'platform/fleet',
    });
    const refs = await fetch(
      `${gitlab.url}/platform/fleet.git/info/refs?service=git-upload-pack`,
      {
        headers: {
          Authorization: `Basic ${Buffer.from(`oauth2:${accessToken}`).toString(
            'base64',
          )}`,
        },
      },
    );
    expect(refs.status).toBe(200);
    // It is not a personal access token.
    const self = await answer(
      await fetch(`${gitlab.url}/api/v4/personal_access_tokens/self`, {
        headers: { Authorization: `Bearer ${accessToken}` },
      }),
    );
    expect(self.status).toBe(404);
  });

  it('authenticates the client with HTTP Basic too', async () => {
    const code = await authorize('bob');
    const granted = await token(
      gitlab,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
      {
        Authorization: `Basic ${Buffer.from(
          `${app.clientId}:${app.clientSecret}`,
        ).toString('base64')}`,
      },
    );
    expect(granted.status).toBe(200);
    expect(
      (await getUser(gitlab, granted.body.access_token)).body,
    ).toMatchObject({ username: 'bob' });
  });

  it('refuses a redirect URI the application did not register, without redirecting', async () => {
    for (const redirectUri of [
      'http://localhost:7007/api/auth/gitlab/handler/frame/',
      'http://evil.example/api/auth/gitlab/handler/frame',
      `${REDIRECT_URI}?next=/`,
    ]) {
      const page = await answer(
        await fetch(
          `${gitlab.url}/oauth/authorize?${new URLSearchParams(
            authorizeParams({ redirect_uri: redirectUri }),
          )}`,
          { redirect: 'manual' },
        ),
      );
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      expect(page.body).toContain('data-error="invalid_redirect_uri"');
      expect(page.body).toContain(
        'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
      );
      const posted = await pickUser(gitlab, {
        ...authorizeParams({ redirect_uri: redirectUri }),
        username: 'alice',
      });
      expect(posted.status).toBe(400);
      expect(posted.headers.get('location')).toBeNull();
    }
  });

  it('refuses a code exchanged with another redirect URI than it was issued for', async () => {
    const code = await authorize('alice');
    const wrong = await exchange(code, {
      redirect_uri: 'http://localhost:7007/elsewhere',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({
      error: 'invalid_grant',
      error_description:
        'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
    });
  });

  it('refuses an unknown client and a wrong secret with invalid_client', async () => {
    const unknown = await answer(
      await fetch(
        `${gitlab.url}/oauth/authorize?${new URLSearchParams(
          authorizeParams({ client_id: 'f'.repeat(64) }),
        )}`,
        { redirect: 'manual' },
      ),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('location')).toBeNull();

    const code = await authorize('alice');
    for (const secret of [`gloas-${'0'.repeat(64)}`, '']) {
      const wrong = await exchange(code, { client_secret: secret });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({
        error: 'invalid_client',
        error_description:
          'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
      });
    }
    // Another registered client cannot redeem this one's code.
    const other = gitlab.api.createOAuthApplication({
      name: 'Other',
      redirectUris: [REDIRECT_URI],
    });
    const stolen = await exchange(code, {
      client_id: other.clientId,
      client_secret: other.clientSecret,
    });
    expect(stolen.body.error).toBe('invalid_grant');
    // None of the failures used the code up.
    expect((await exchange(code)).status).toBe(200);
  });

  it('a code works once, and not after ten minutes', async () => {
    const code = await authorize('alice');
    expect((await exchange(code)).status).toBe(200);
    const reused = await exchange(code);
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');

    const late = await authorize('alice');
    gitlab.api.setNow(new Date(Date.now() + 11 * 60_000));
    try {
      expect((await exchange(late)).body.error).toBe('invalid_grant');
    } finally {
      gitlab.api.setNow(undefined);
    }
  });

  it('refreshes: a new pair, the old access and refresh tokens revoked', async () => {
    const code = await authorize('alice');
    const first = (await exchange(code)).body;
    const refreshed = await token(gitlab, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: app.clientId,
      client_secret: app.clientSecret,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 7200,
      scope: 'read_user',
    });
    expect(refreshed.body.access_token).not.toBe(first.access_token);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(
      (await getUser(gitlab, refreshed.body.access_token)).body.username,
    ).toBe('alice');

    const old = await getUser(gitlab, first.access_token);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_token');
    const again = await token(gitlab, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: app.clientId,
      client_secret: app.clientSecret,
    });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('an access token expires after two hours; a refresh still works then', async () => {
    const { body } = await exchange(await authorize('alice'));
    gitlab.api.setNow(new Date(Date.now() + 2 * 3600_000 + 1000));
    try {
      const expired = await getUser(gitlab, body.access_token);
      expect(expired.status).toBe(401);
      expect(expired.body).toMatchObject({
        error: 'invalid_token',
        error_description: 'Token has expired.',
      });
      const refreshed = await token(gitlab, {
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(refreshed.status).toBe(200);
    } finally {
      gitlab.api.setNow(undefined);
    }
  });

  it('sends errors back to the client: denial, unknown scope, wrong response type', async () => {
    const denied = await pickUser(gitlab, {
      ...authorizeParams(),
      decision: 'deny',
    });
    expect(denied.status).toBe(302);
    const deniedAt = new URL(denied.headers.get('location')!);
    expect(Object.fromEntries(deniedAt.searchParams)).toEqual({
      error: 'access_denied',
      error_description:
        'The resource owner or authorization server denied the request.',
      state: 'opaque-state',
    });

    for (const [extra, error] of [
      [{ scope: 'read_user sudo' }, 'invalid_scope'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
    ] as const) {
      const page = await answer(
        await fetch(
          `${gitlab.url}/oauth/authorize?${new URLSearchParams(
            authorizeParams(extra),
          )}`,
          { redirect: 'manual' },
        ),
      );
      expect(page.status).toBe(302);
      const location = new URL(page.headers.get('location')!);
      expect(location.searchParams.get('error')).toBe(error);
      expect(location.searchParams.get('state')).toBe('opaque-state');
    }

    // Nobody outside the list signs in: the page comes back, no code.
    const nobody = await pickUser(gitlab, {
      ...authorizeParams(),
      username: 'root',
    });
    expect(nobody.status).toBe(400);
    expect(nobody.headers.get('location')).toBeNull();
  });

  it('checks PKCE when the authorization request had a challenge', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
    const withoutVerifier = await exchange(await authorize('alice', pkce));
    expect(withoutVerifier.body.error).toBe('invalid_grant');
    const withVerifier = await exchange(await authorize('alice', pkce), {
      code_verifier: verifier,
    });
    expect(withVerifier.status).toBe(200);
  });

  it('answers the token endpoint’s malformed requests as Doorkeeper does', async () => {
    const noGrant = await token(gitlab, { client_id: app.clientId });
    expect(noGrant.body).toEqual({
      error: 'invalid_request',
      error_description: 'Missing required parameter: grant_type.',
    });
    const password = await token(gitlab, {
      grant_type: 'password',
      client_id: app.clientId,
      client_secret: app.clientSecret,
    });
    expect(password.body.error).toBe('unsupported_grant_type');
  });

  it('registers applications through the admin API only', async () => {
    const rootToken = gitlab.api.createPersonalAccessToken('root', {
      scopes: ['api'],
    }).token;
    const aliceToken = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    }).token;
    const create = (privateToken: string) =>
      fetch(`${gitlab.url}/api/v4/applications`, {
        method: 'POST',
        headers: {
          'PRIVATE-TOKEN': privateToken,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({
          name: 'Grafana',
          redirect_uri: 'https://grafana.example/login/gitlab',
          scopes: 'read_user openid',
        }),
      });
    expect((await create(aliceToken)).status).toBe(403);
    const created = await answer(await create(rootToken));
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      application_id: expect.stringMatching(/^[0-9a-f]{64}$/),
      application_name: 'Grafana',
      secret: expect.stringMatching(/^gloas-[0-9a-f]{64}$/),
      callback_url: 'https://grafana.example/login/gitlab',
      confidential: true,
    });
    const listed = await answer(
      await fetch(`${gitlab.url}/api/v4/applications`, {
        headers: { 'PRIVATE-TOKEN': rootToken },
      }),
    );
    expect(listed.body.map((a: any) => a.application_name)).toEqual([
      'Backstage',
      'Grafana',
    ]);
    expect(JSON.stringify(listed.body)).not.toContain('gloas-');
  });
});
