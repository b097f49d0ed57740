import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OciAuthError,
  OciCredentials,
  pullArtifact,
  pushArtifact,
  RunningRegistry,
  startRegistry,
} from '../oci';
import { AccessLevel, RunningGitLab, startGitLab } from '.';

describe('GitLab as the container registry authentication', () => {
  let workDir: string;
  let gitlab: RunningGitLab;
  let registry: RunningRegistry;
  let sourceDir: string;
  let pulls = 0;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'gitlab-registry-auth-'));
    sourceDir = join(workDir, 'source');
    await mkdir(sourceDir);
    await writeFile(join(sourceDir, 'flux.yaml'), 'kind: Kustomization\n');

    gitlab = await startGitLab();
    registry = await startRegistry({
      dataDir: join(workDir, 'registry'),
      authorize: request => gitlab.api.authorizeRegistry(request),
    });
    gitlab.api.createUser({ username: 'alice' });
    gitlab.api.createUser({ username: 'rita' });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    await gitlab.api.createProject({ namespace: 'platform', path: 'fleet' });
    await gitlab.api.createProject({ namespace: 'platform', path: 'other' });
    await gitlab.api.createProject({
      namespace: 'platform',
      path: 'open',
      visibility: 'public',
    });
    gitlab.api.addMember(
      { project: 'platform/fleet' },
      'rita',
      AccessLevel.Reporter,
    );
  });

  afterAll(async () => {
    await registry?.stop();
    await gitlab?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  const imageUrl = (repository: string) =>
    `oci://${registry.host}/${repository}`;

  const push = (
    repository: string,
    credentials: OciCredentials | undefined,
    tag = 'v1',
  ) =>
    pushArtifact({
      url: imageUrl(repository),
      tag,
      sourceDir,
      source: 'https://gitlab.example/platform/fleet',
      revision: 'main@sha1:0000000000000000000000000000000000000000',
      credentials,
    });

  const pull = (
    repository: string,
    credentials: OciCredentials | undefined,
    tag = 'v1',
    destination = join(workDir, `pulled-${++pulls}`),
  ) =>
    pullArtifact({
      url: imageUrl(repository),
      ref: { tag },
      destination,
      credentials,
    });

  async function status(attempt: Promise<unknown>): Promise<number> {
    const error = await attempt.then(
      () => undefined,
      e => e,
    );
    expect(error).toBeInstanceOf(OciAuthError);
    return error.status;
  }

  it('lets deploy tokens pull and push by their registry scopes', async () => {
    const writer = gitlab.api.createDeployToken(
      { project: 'platform/fleet' },
      { name: 'ci', scopes: ['read_registry', 'write_registry'] },
    );
    const reader = gitlab.api.createDeployToken(
      { group: 'platform' },
      { name: 'flux', scopes: ['read_registry'] },
    );
    const credentials = (token: { username: string; token: string }) => ({
      username: token.username,
      password: token.token,
    });

    const pushed = await push('platform/fleet/manifests', credentials(writer));
    const destination = join(workDir, 'deploy-token-pull');
    const pulled = await pull(
      'platform/fleet/manifests',
      credentials(reader),
      'v1',
      destination,
    );
    expect(pulled.digest).toBe(pushed.digest);
    expect(await readFile(join(destination, 'flux.yaml'), 'utf8')).toBe(
      'kind: Kustomization\n',
    );

    expect(
      await status(push('platform/fleet/manifests', credentials(reader), 'v2')),
    ).toBe(403);
    // A project's deploy token reaches no other project.
    expect(await status(push('platform/other', credentials(writer)))).toBe(403);
    expect(
      await status(pull('platform/other', credentials(writer), 'missing')),
    ).toBe(403);
    // A deploy token only works with its own username.
    expect(
      await status(
        pull('platform/fleet/manifests', {
          username: 'someone',
          password: reader.token,
        }),
      ),
    ).toBe(401);
  });

  it('lets user tokens in by scope and role, and refuses unknown or revoked ones', async () => {
    const pat = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    });
    const pushed = await push('platform/fleet', {
      username: 'anything',
      password: pat.token,
    });
    expect(
      (await pull('platform/fleet', { username: 'x', password: pat.token }))
        .digest,
    ).toBe(pushed.digest);

    // A Reporter pulls but may not push.
    const rita = gitlab.api.createPersonalAccessToken('rita', {
      scopes: ['read_registry', 'write_registry'],
    });
    const ritaCredentials = { username: 'rita', password: rita.token };
    expect((await pull('platform/fleet', ritaCredentials)).digest).toBe(
      pushed.digest,
    );
    expect(await status(push('platform/fleet', ritaCredentials, 'v2'))).toBe(
      403,
    );

    const revoked = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    });
    const revocation = await fetch(
      `${gitlab.url}/api/v4/personal_access_tokens/self`,
      { method: 'DELETE', headers: { 'PRIVATE-TOKEN': revoked.token } },
    );
    expect(revocation.status).toBe(204);
    expect(
      await status(
        pull('platform/fleet', { username: 'alice', password: revoked.token }),
      ),
    ).toBe(401);
    expect(
      await status(
        pull('platform/fleet', { username: 'alice', password: 'glpat-nope' }),
      ),
    ).toBe(401);
    expect(await status(pull('platform/fleet', undefined))).toBe(401);
  });

  it('decides pings, missing projects and anonymous pulls as GitLab does', () => {
    const { api } = gitlab;
    const pat = api.createPersonalAccessToken('rita', {
      scopes: ['read_registry'],
    });
    const anonymous = { username: '', password: '' };
    const asRita = { username: 'rita', password: pat.token };

    expect(api.authorizeRegistry({ ...asRita, action: 'pull' })).toBe(true);
    expect(api.authorizeRegistry({ ...anonymous, action: 'pull' })).toBe(
      'unauthenticated',
    );
    expect(
      api.authorizeRegistry({
        ...anonymous,
        repository: 'platform/open/image',
        action: 'pull',
      }),
    ).toBe(true);
    expect(
      api.authorizeRegistry({
        ...anonymous,
        repository: 'platform/open',
        action: 'push',
      }),
    ).toBe('unauthenticated');
    expect(
      api.authorizeRegistry({
        ...anonymous,
        repository: 'platform/fleet',
        action: 'pull',
      }),
    ).toBe('unauthenticated');
    expect(
      api.authorizeRegistry({
        ...asRita,
        repository: 'platform/nowhere',
        action: 'pull',
      }),
    ).toBe(false);
    // read_registry without write_registry (or api) pushes nowhere, even for an Owner.
    const aliceReader = api.createPersonalAccessToken('alice', {
      scopes: ['read_registry'],
    });
    expect(
      api.authorizeRegistry({
        username: 'alice',
        password: aliceReader.token,
        repository: 'platform/fleet',
        action: 'push',
      }),
    ).toBe(false);

    // Expired tokens are refused like unknown ones.
    api.setNow(new Date(Date.now() + 2 * 365 * 24 * 3600 * 1000));
    try {
      expect(
        api.authorizeRegistry({
          ...asRita,
          repository: 'platform/fleet',
          action: 'pull',
        }),
      ).toBe('unauthenticated');
    } finally {
      api.setNow(undefined);
    }
  });
});
