import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { RunningGitLab, startGitLab } from '@backstage-gitops/sandbox';
import { GitHosts } from './GitHosts';
import { RepositoryAccess } from './RepositoryAccess';

jest.setTimeout(30_000);

function user(name: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'User',
    metadata: { name, namespace: 'default', annotations },
    spec: {},
  };
}

/** Against the sandbox GitLab over HTTP: who may read which project is GitLab's answer. */
describe('RepositoryAccess', () => {
  let gitlab: RunningGitLab;
  let hostname: string;
  const url = (path: string) => parseRepositoryUrl(`${gitlab.url}/${path}.git`);

  const access = (loginFromEntityName: boolean) => {
    const { host } = new URL(gitlab.url);
    const config = new ConfigReader({
      integrations: {
        gitlab: [
          {
            host,
            baseUrl: gitlab.url,
            apiBaseUrl: `${gitlab.url}/api/v4`,
            token: gitlab.api.createPersonalAccessToken('root', {
              scopes: ['api'],
            }).token,
          },
        ],
      },
      gitops: { repositoryAccess: { loginFromEntityName } },
    });
    return RepositoryAccess.fromConfig(config, {
      hosts: GitHosts.fromConfig(config),
      catalog: catalogServiceMock({
        entities: [
          user('alice'),
          user('mallory'),
          // As the GitLab org provider writes it: the profile URL.
          user('a.smith', {
            [`${hostname}/user-login`]: `${gitlab.url}/alice`,
          }),
          user('stranger', { [`${hostname}/user-login`]: 'nobody-here' }),
        ],
      }),
      auth: mockServices.auth(),
    });
  };

  beforeAll(async () => {
    gitlab = await startGitLab();
    hostname = new URL(gitlab.url).hostname;
    for (const username of ['alice', 'mallory', 'gus']) {
      gitlab.api.createUser({ username });
    }
    gitlab.api.createGroup({ path: 'payments', owner: 'root' });
    gitlab.api.addMember({ group: 'payments' }, 'alice', 30);
    gitlab.api.addMember({ group: 'payments' }, 'gus', 10);
    await gitlab.api.createProject({
      namespace: 'payments',
      path: 'deploy',
      visibility: 'private',
      files: { 'README.md': '# deploy\n' },
    });
    await gitlab.api.createProject({
      namespace: 'payments',
      path: 'open',
      visibility: 'public',
      files: { 'README.md': '# open\n' },
    });
    await gitlab.api.createProject({
      namespace: 'payments',
      path: 'inside',
      visibility: 'internal',
      files: { 'README.md': '# inside\n' },
    });
  });

  afterAll(async () => {
    await gitlab?.stop();
  });

  it('lets a member of a private project through, by entity name or by annotation', async () => {
    await expect(
      access(true).requireReadable(
        url('payments/deploy'),
        mockCredentials.user('user:default/alice'),
      ),
    ).resolves.toBeUndefined();
    await expect(
      access(false).requireReadable(
        url('payments/deploy'),
        mockCredentials.user('user:default/a.smith'),
      ),
    ).resolves.toBeUndefined();
  });

  it('refuses, naming why, whoever GitLab would not show the code to', async () => {
    const refused = (
      entityRef: string,
      path = 'payments/deploy',
      byName = true,
    ) =>
      access(byName).requireReadable(
        url(path),
        mockCredentials.user(entityRef),
      );
    await expect(refused('user:default/mallory')).rejects.toMatchObject({
      name: 'NotAllowedError',
      message: expect.stringMatching(
        /payments\/deploy on .* is private and mallory is not a member/,
      ),
    });
    // A guest member cannot read a private project's code.
    await expect(refused('user:default/gus')).rejects.toThrow(
      /gus is a guest of payments\/deploy/,
    );
    await expect(refused('user:default/stranger')).rejects.toThrow(
      /has no user nobody-here/,
    );
    // No account known: neither an annotation nor, by default, the entity's name.
    await expect(
      refused('user:default/alice', 'payments/deploy', false),
    ).rejects.toThrow(/is private and no account of yours there is known/);
    await expect(
      refused('user:default/mallory', 'payments/inside', false),
    ).rejects.toThrow(/is internal and no account of yours there is known/);
  });

  it('lets anyone through to a public project, any user to an internal one', async () => {
    await expect(
      access(false).requireReadable(
        url('payments/open'),
        mockCredentials.user('user:default/mallory'),
      ),
    ).resolves.toBeUndefined();
    await expect(
      access(true).requireReadable(
        url('payments/inside'),
        mockCredentials.user('user:default/mallory'),
      ),
    ).resolves.toBeUndefined();
  });

  it('does not stand in the way where the backend reads nothing with its credentials', async () => {
    // A host without an integration, a project the backend cannot see, a plugin's call.
    await expect(
      access(true).requireReadable(
        parseRepositoryUrl('https://git.example.com/payments/deploy.git'),
        mockCredentials.user('user:default/mallory'),
      ),
    ).resolves.toBeUndefined();
    await expect(
      access(true).requireReadable(
        url('payments/absent'),
        mockCredentials.user('user:default/mallory'),
      ),
    ).resolves.toBeUndefined();
    await expect(
      access(true).requireReadable(
        url('payments/deploy'),
        mockCredentials.service('plugin:scaffolder'),
      ),
    ).resolves.toBeUndefined();
  });
});
