import { Gitlab } from '@gitbeaker/rest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AccessLevel, RunningGitLab, startGitLab } from '.';

const exec = promisify(execFile);

async function failure(
  promise: Promise<unknown>,
): Promise<{ status: number; body: string }> {
  try {
    await promise;
  } catch (error: any) {
    return {
      status: error.cause.response.status,
      body: error.cause.description,
    };
  }
  throw new Error('Expected the request to fail');
}

/** GET with a token, returning status and JSON body (for exact error bodies). */
async function getJson(
  url: string,
  token: string,
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: { 'PRIVATE-TOKEN': token } });
  return { status: response.status, body: await response.json() };
}

describe('GitLab tokens and keys', () => {
  let gitlab: RunningGitLab;
  let alice: InstanceType<typeof Gitlab>;
  let aliceToken: string;

  beforeEach(async () => {
    gitlab = await startGitLab();
    gitlab.api.createUser({ username: 'alice' });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    await gitlab.api.createProject({
      namespace: 'platform',
      path: 'fleet',
      files: { 'README.md': '# Fleet\n' },
    });
    aliceToken = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    }).token;
    alice = new Gitlab({ host: gitlab.url, token: aliceToken });
  });

  afterEach(async () => {
    await gitlab.stop();
  });

  it('manages project and group deploy tokens', async () => {
    const created = await alice.DeployTokens.create(
      'flux',
      ['read_repository'],
      {
        projectId: 'platform/fleet',
        expires_at: '2099-01-01T00:00:00Z',
      },
    );
    expect(created).toMatchObject({
      name: 'flux',
      username: `gitlab+deploy-token-${created.id}`,
      scopes: ['read_repository'],
      revoked: false,
      expired: false,
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    expect(created.token).toMatch(/^gldt-/);

    const listed = await alice.DeployTokens.all({
      projectId: 'platform/fleet',
    });
    expect(listed).toHaveLength(1);
    expect(listed[0]).not.toHaveProperty('token');
    const shown = await alice.DeployTokens.show(created.id, {
      projectId: 'platform/fleet',
    });
    expect(shown).toEqual(listed[0]);

    const custom = await alice.DeployTokens.create('named', ['read_registry'], {
      groupId: 'platform',
      username: 'registry-reader',
    });
    expect(custom.username).toBe('registry-reader');
    expect(
      (await alice.DeployTokens.all({ groupId: 'platform' })).map(t => t.name),
    ).toEqual(['named']);

    expect(
      await failure(
        alice.DeployTokens.create('bad', ['api' as any], {
          projectId: 'platform/fleet',
        }),
      ),
    ).toEqual({ status: 400, body: 'scopes does not have a valid value' });

    await alice.DeployTokens.remove(created.id, {
      projectId: 'platform/fleet',
    });
    expect(
      await alice.DeployTokens.all({ projectId: 'platform/fleet' }),
    ).toEqual([]);
    expect(
      await failure(
        alice.DeployTokens.show(created.id, { projectId: 'platform/fleet' }),
      ),
    ).toEqual({ status: 404, body: '404 Deploy Token Not Found' });

    // A deploy token is no API token.
    expect(
      (await getJson(`${gitlab.url}/api/v4/user`, custom.token as string))
        .status,
    ).toBe(401);
  });

  it('adds deploy keys with the fingerprints ssh-keygen computes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'deploy-key-'));
    try {
      const keyFile = join(dir, 'key');
      await exec('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        'flux',
        '-f',
        keyFile,
      ]);
      const publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
      const fingerprint = async (hash: string) =>
        (
          await exec('ssh-keygen', ['-l', '-E', hash, '-f', `${keyFile}.pub`])
        ).stdout.split(' ')[1];

      const key = await alice.DeployKeys.create(
        'platform/fleet',
        'flux',
        publicKey,
        {
          canPush: false,
        },
      );
      expect(key).toMatchObject({
        title: 'flux',
        key: publicKey,
        can_push: false,
        fingerprint_sha256: await fingerprint('sha256'),
        fingerprint: (await fingerprint('md5')).replace(/^MD5:/, ''),
      });
      const again = await alice.DeployKeys.create(
        'platform/fleet',
        'dup',
        publicKey,
      );
      expect(again.id).toBe(key.id);
      expect(
        (await alice.DeployKeys.all({ projectId: 'platform/fleet' })).map(
          k => k.id,
        ),
      ).toEqual([key.id]);
      expect(
        (
          await failure(
            alice.DeployKeys.create(
              'platform/fleet',
              'bad',
              'ssh-rsa AAAAnope',
            ),
          )
        ).status,
      ).toBe(400);
      await alice.DeployKeys.remove('platform/fleet', key.id);
      expect(
        await alice.DeployKeys.all({ projectId: 'platform/fleet' }),
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates, rotates and revokes project access tokens acting as bot users', async () => {
    const created = await alice.ProjectAccessTokens.create(
      'platform/fleet',
      'flux-notifications',
      ['api'],
      '2099-12-31',
      { accessLevel: AccessLevel.Developer },
    );
    expect(created).toMatchObject({
      name: 'flux-notifications',
      scopes: ['api'],
      access_level: 30,
      expires_at: '2099-12-31',
      active: true,
      revoked: false,
    });
    const bot = new Gitlab({
      host: gitlab.url,
      token: created.token as string,
    });
    const me = await bot.Users.showCurrentUser();
    expect(me).toMatchObject({ bot: true, name: 'flux-notifications' });
    expect(me.username).toMatch(/^project_\d+_bot_[0-9a-f]+$/);
    expect(me.id).toBe(created.user_id);
    // As a Developer of the project it may post commit statuses.
    const sha = (await bot.Branches.show('platform/fleet', 'main')).commit
      .id as string;
    expect(
      (await bot.Commits.editStatus('platform/fleet', sha, 'success')).status,
    ).toBe('success');

    const listed = await alice.ProjectAccessTokens.all('platform/fleet');
    expect(listed).toEqual([
      expect.objectContaining({ id: created.id, active: true }),
    ]);
    expect(listed[0]).not.toHaveProperty('token');

    const rotated = await alice.ProjectAccessTokens.rotate(
      'platform/fleet',
      created.id,
    );
    expect(rotated.id).not.toBe(created.id);
    expect(rotated.token).not.toBe(created.token);
    expect(rotated.expires_at).toBe(
      new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10),
    );
    expect(
      await getJson(`${gitlab.url}/api/v4/user`, created.token as string),
    ).toEqual({
      status: 401,
      body: {
        error: 'invalid_token',
        error_description:
          'Token was revoked. You have to re-authorize from the user profile.',
      },
    });
    const rotatedBot = new Gitlab({
      host: gitlab.url,
      token: rotated.token as string,
    });
    expect((await rotatedBot.Users.showCurrentUser()).id).toBe(created.user_id);
    expect(
      (await alice.ProjectAccessTokens.show('platform/fleet', created.id))
        .revoked,
    ).toBe(true);

    await alice.ProjectAccessTokens.revoke('platform/fleet', rotated.id);
    expect(
      (await getJson(`${gitlab.url}/api/v4/user`, rotated.token as string))
        .status,
    ).toBe(401);
    expect(
      await failure(
        alice.ProjectAccessTokens.rotate('platform/fleet', rotated.id),
      ),
    ).toEqual({ status: 400, body: '400 Bad request - token already revoked' });

    // A Developer may not create project access tokens; nobody beyond their own level.
    gitlab.api.createUser({ username: 'dev' });
    gitlab.api.addMember(
      { project: 'platform/fleet' },
      'dev',
      AccessLevel.Developer,
    );
    const dev = new Gitlab({
      host: gitlab.url,
      token: gitlab.api.createPersonalAccessToken('dev', { scopes: ['api'] })
        .token,
    });
    expect(
      (
        await failure(
          dev.ProjectAccessTokens.create(
            'platform/fleet',
            'x',
            ['api'],
            '2099-01-01',
          ),
        )
      ).status,
    ).toBe(403);
    expect(
      await failure(
        alice.ProjectAccessTokens.create(
          'platform/fleet',
          'x',
          ['nope' as any],
          '2099-01-01',
        ),
      ),
    ).toEqual({ status: 400, body: 'scopes does not have a valid value' });
  });

  it('creates group access tokens for group owners', async () => {
    const created = await alice.GroupAccessTokens.create(
      'platform',
      'ci',
      ['read_api'],
      '2099-01-01',
      {
        accessLevel: AccessLevel.Reporter,
      },
    );
    const bot = new Gitlab({
      host: gitlab.url,
      token: created.token as string,
    });
    expect((await bot.Projects.show('platform/fleet')).path).toBe('fleet');
    expect((await bot.Users.showCurrentUser()).username).toMatch(
      /^group_\d+_bot_/,
    );
    expect(
      (await alice.GroupAccessTokens.all('platform')).map(t => t.name),
    ).toEqual(['ci']);
    const rotated = await alice.GroupAccessTokens.rotate(
      'platform',
      created.id,
      {
        expiresAt: '2099-06-01',
      },
    );
    expect(rotated).toMatchObject({
      expires_at: '2099-06-01',
      access_level: 20,
    });
  });

  it('shows and rotates personal access tokens', async () => {
    const self = await alice.PersonalAccessTokens.show();
    expect(self).toMatchObject({
      scopes: ['api'],
      active: true,
      revoked: false,
      user_id: (await alice.Users.showCurrentUser()).id,
    });
    expect(self.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(self.last_used_at).not.toBeNull();

    // Any token may read itself, whatever its scopes.
    const repoOnly = gitlab.api.createPersonalAccessToken('alice', {
      name: 'git',
      scopes: ['read_repository'],
    });
    const repoClient = new Gitlab({ host: gitlab.url, token: repoOnly.token });
    expect((await repoClient.PersonalAccessTokens.show()).name).toBe('git');
    // Rotating itself needs `api` or `self_rotate`.
    expect(
      (await failure(repoClient.PersonalAccessTokens.rotate('self'))).status,
    ).toBe(403);
    const selfRotating = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['self_rotate', 'read_repository'],
    });
    const rotatedSelf = await new Gitlab({
      host: gitlab.url,
      token: selfRotating.token,
    }).PersonalAccessTokens.rotate('self');
    expect(rotatedSelf.token).toMatch(/^glpat-/);

    const rotated = await alice.PersonalAccessTokens.rotate(self.id, {
      expiresAt: '2099-02-02',
    });
    expect(rotated).toMatchObject({
      name: self.name,
      scopes: ['api'],
      expires_at: '2099-02-02',
    });
    expect(
      (await getJson(`${gitlab.url}/api/v4/user`, aliceToken)).status,
    ).toBe(401);
    const renewed = new Gitlab({
      host: gitlab.url,
      token: rotated.token as string,
    });
    expect((await renewed.Users.showCurrentUser()).username).toBe('alice');
  });

  it('refuses expired tokens once the clock passes their expiry date', async () => {
    const token = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
      expiresAt: '2030-01-10',
    }).token;
    gitlab.api.setNow(new Date('2030-01-09T23:59:00Z'));
    expect((await getJson(`${gitlab.url}/api/v4/user`, token)).status).toBe(
      200,
    );
    gitlab.api.setNow(new Date('2030-01-10T00:00:00Z'));
    expect(await getJson(`${gitlab.url}/api/v4/user`, token)).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: 'Token has expired.' },
    });
    // Tokens created without an expiry date get GitLab's one-year maximum.
    expect(
      (await getJson(`${gitlab.url}/api/v4/user`, aliceToken)).status,
    ).toBe(401);
  });
});
