import { Gitlab } from '@gitbeaker/rest';
import { AccessLevel, RunningGitLab, startGitLab } from '.';

// Real Git repositories behind the API: on a busy 2-core machine a test can take seconds.
jest.setTimeout(30_000);

/**
 * The status and error text of a failed gitbeaker call (gitbeaker reads the body's
 * `error`, else `message`, JSON-encoding an object message).
 */
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

describe('GitLab REST API', () => {
  let gitlab: RunningGitLab;
  let alice: InstanceType<typeof Gitlab>;
  let aliceToken: string;

  beforeEach(async () => {
    gitlab = await startGitLab();
    gitlab.api.createUser({ username: 'alice', name: 'Alice' });
    gitlab.api.createUser({ username: 'bob', name: 'Bob' });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    gitlab.api.createGroup({
      path: 'apps',
      parent: 'platform',
      visibility: 'public',
    });
    await gitlab.api.createProject({
      namespace: 'platform',
      path: 'fleet',
      files: {
        'clusters/dev/kustomization.yaml': 'resources: []\n',
        'README.md': '# Fleet\n',
      },
      creator: 'alice',
    });
    aliceToken = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    }).token;
    alice = new Gitlab({ host: gitlab.url, token: aliceToken });
  });

  afterEach(async () => {
    await gitlab.stop();
  });

  it('keeps a journal of the requests it served, for tests that show nothing was sent', async () => {
    const mark = gitlab.requestsServed();
    await alice.Projects.show('platform/fleet');
    await fetch(
      `${gitlab.url}/platform/fleet.git/info/refs?service=git-upload-pack`,
    );
    expect(gitlab.requestsServed()).toBe(mark + 2);
    expect(gitlab.requestsSince(mark)).toEqual([
      {
        method: 'GET',
        path: '/api/v4/projects/platform%2Ffleet',
        user: 'alice',
      },
      { method: 'GET', path: '/platform/fleet.git/info/refs' },
    ]);
    expect(gitlab.requestsSince(gitlab.requestsServed())).toEqual([]);
  });

  it('finds users by username and lists effective members, inherited from groups, without admins', async () => {
    const [bob] = await alice.Users.all({ username: 'BOB' });
    expect(bob).toMatchObject({ username: 'bob', name: 'Bob' });
    expect(await alice.Users.all({ username: 'nobody' })).toEqual([]);
    const [aliceUser] = await alice.Users.all({ username: 'alice' });
    // alice owns the platform group, which holds the project.
    expect(
      await alice.ProjectMembers.show('platform/fleet', aliceUser.id, {
        includeInherited: true,
      }),
    ).toMatchObject({ username: 'alice', access_level: 50 });
    expect(
      await failure(
        alice.ProjectMembers.show('platform/fleet', bob.id, {
          includeInherited: true,
        }),
      ),
    ).toMatchObject({ status: 404 });
    gitlab.api.addMember({ project: 'platform/fleet' }, 'bob', 20);
    expect(
      await alice.ProjectMembers.show('platform/fleet', bob.id, {
        includeInherited: true,
      }),
    ).toMatchObject({ username: 'bob', access_level: 20 });
    const [root] = await alice.Users.all({ username: 'root' });
    expect(
      await failure(
        alice.ProjectMembers.show('platform/fleet', root.id, {
          includeInherited: true,
        }),
      ),
    ).toMatchObject({ status: 404 });
  });

  it('reports the version and the current user', async () => {
    expect(await alice.Metadata.show()).toMatchObject({ version: '18.4.1' });
    const response = await fetch(`${gitlab.url}/api/v4/version`, {
      headers: { 'PRIVATE-TOKEN': aliceToken },
    });
    expect(await response.json()).toMatchObject({
      version: '18.4.1',
      enterprise: false,
    });
    expect(await alice.Users.showCurrentUser()).toMatchObject({
      username: 'alice',
      name: 'Alice',
      is_admin: false,
      bot: false,
    });
  });

  it('shows projects by id or path and lists them with membership and search', async () => {
    const byPath = await alice.Projects.show('platform/fleet');
    expect(byPath).toMatchObject({
      path_with_namespace: 'platform/fleet',
      default_branch: 'main',
      visibility: 'private',
      empty_repo: false,
      http_url_to_repo: `${gitlab.url}/platform/fleet.git`,
      web_url: `${gitlab.url}/platform/fleet`,
      namespace: { full_path: 'platform', kind: 'group' },
    });
    expect((await alice.Projects.show(byPath.id)).id).toBe(byPath.id);

    await gitlab.api.createProject({
      namespace: 'platform/apps',
      path: 'podinfo',
      visibility: 'public',
    });
    const mine = await alice.Projects.all({ membership: true });
    expect(mine.map(p => p.path_with_namespace).sort()).toEqual([
      'platform/apps/podinfo',
      'platform/fleet',
    ]);
    const searched = await alice.Projects.all({ search: 'pod' });
    expect(searched.map(p => p.path)).toEqual(['podinfo']);

    // Bob is no member: he sees only the public project; the private one does not exist for him.
    const bob = new Gitlab({
      host: gitlab.url,
      token: gitlab.api.createPersonalAccessToken('bob', {
        scopes: ['read_api'],
      }).token,
    });
    expect((await bob.Projects.all()).map(p => p.path)).toEqual(['podinfo']);
    expect(await failure(bob.Projects.show('platform/fleet'))).toEqual({
      status: 404,
      body: '404 Project Not Found',
    });
    // Anonymous callers see public projects only.
    const anonymous = await fetch(`${gitlab.url}/api/v4/projects`);
    expect((await anonymous.json()).map((p: any) => p.path)).toEqual([
      'podinfo',
    ]);
  });

  it('shows namespaces by id or path, as publish:gitlab looks its owner up', async () => {
    const group = await alice.Namespaces.show('platform/apps');
    expect(group).toMatchObject({
      kind: 'group',
      path: 'apps',
      full_path: 'platform/apps',
    });
    expect(await alice.Namespaces.show(String(group.id))).toMatchObject({
      full_path: 'platform/apps',
    });
    expect(await alice.Namespaces.show('alice')).toMatchObject({
      kind: 'user',
      full_path: 'alice',
    });
    // Another user's namespace and an unknown path are not found.
    expect((await failure(alice.Namespaces.show('bob'))).status).toBe(404);
    expect((await failure(alice.Namespaces.show('nowhere'))).status).toBe(404);
  });

  it('creates projects, optionally with a README, in groups and personal namespaces', async () => {
    const group = await alice.Groups.show('platform');
    const created = await alice.Projects.create({
      name: 'My Infra',
      namespaceId: group.id,
      visibility: 'internal',
      initializeWithReadme: true,
    });
    expect(created).toMatchObject({
      name: 'My Infra',
      path: 'my-infra',
      path_with_namespace: 'platform/my-infra',
      visibility: 'internal',
      empty_repo: false,
    });
    const readme = await alice.RepositoryFiles.showRaw(
      created.id,
      'README.md',
      'main',
    );
    expect(readme).toContain('# My Infra');

    const personal = await alice.Projects.create({ path: 'scratch' });
    expect(personal).toMatchObject({
      path_with_namespace: 'alice/scratch',
      empty_repo: true,
    });
    expect(await gitlab.api.repository('alice/scratch').refs()).toEqual(
      new Map(),
    );

    expect(await failure(alice.Projects.create({ path: 'scratch' }))).toEqual({
      status: 400,
      body: JSON.stringify({
        name: ['has already been taken'],
        path: ['has already been taken'],
      }),
    });
    const groupProjects = await alice.Groups.allProjects('platform');
    expect(groupProjects.map(p => p.path).sort()).toEqual([
      'fleet',
      'my-infra',
    ]);
  });

  it('lists branches, commits and files, and commits through the API', async () => {
    const branches = await alice.Branches.all('platform/fleet');
    expect(branches).toHaveLength(1);
    expect(branches[0]).toMatchObject({
      name: 'main',
      default: true,
      can_push: true,
    });
    const initial = branches[0].commit.id as string;

    const commit = await alice.Commits.create(
      'platform/fleet',
      'main',
      'Add podinfo',
      [
        {
          action: 'create',
          filePath: 'apps/podinfo.yaml',
          content: 'kind: HelmRelease\n',
        },
        { action: 'update', filePath: 'README.md', content: '# Fleet v2\n' },
        { action: 'delete', filePath: 'clusters/dev/kustomization.yaml' },
      ],
      { authorName: 'Release Bot', authorEmail: 'bot@example.com' },
    );
    expect(commit).toMatchObject({
      title: 'Add podinfo',
      parent_ids: [initial],
      author_name: 'Release Bot',
      committer_name: 'Alice',
      stats: { additions: 2, deletions: 2, total: 4 },
    });
    expect(
      await alice.RepositoryFiles.showRaw(
        'platform/fleet',
        'apps/podinfo.yaml',
        'main',
      ),
    ).toBe('kind: HelmRelease\n');
    expect(
      await alice.RepositoryFiles.showRaw(
        'platform/fleet',
        'README.md',
        initial,
      ),
    ).toBe('# Fleet\n');
    const file = await alice.RepositoryFiles.show(
      'platform/fleet',
      'apps/podinfo.yaml',
      'main',
    );
    expect(Buffer.from(file.content, 'base64').toString()).toBe(
      'kind: HelmRelease\n',
    );
    expect(file.last_commit_id).toBe(commit.id);

    const commits = await alice.Commits.all('platform/fleet', {
      refName: 'main',
    });
    expect(commits.map(c => c.id)).toEqual([commit.id, initial]);
    expect((await alice.Commits.show('platform/fleet', initial)).title).toBe(
      'Initial commit',
    );

    // A new branch from a start branch, then a compare between the two.
    await alice.Commits.create(
      'platform/fleet',
      'feature/x',
      'Feature',
      [{ action: 'create', filePath: 'x.txt', content: 'x\n' }],
      { startBranch: 'main' },
    );
    expect(
      (await alice.Branches.show('platform/fleet', 'feature/x')).commit.title,
    ).toBe('Feature');
    const compare = await alice.Repositories.compare(
      'platform/fleet',
      'main',
      'feature/x',
    );
    expect(
      (compare.commits as Array<{ title: string }>).map(c => c.title),
    ).toEqual(['Feature']);
    expect(compare.diffs).toEqual([
      expect.objectContaining({
        new_path: 'x.txt',
        new_file: true,
        diff: '@@ -0,0 +1 @@\n+x\n',
      }),
    ]);

    expect(
      await failure(
        alice.Commits.create('platform/fleet', 'main', 'dup', [
          { action: 'create', filePath: 'README.md', content: 'again' },
        ]),
      ),
    ).toEqual({ status: 400, body: 'A file with this name already exists' });
    expect(
      await failure(
        alice.Commits.create('platform/fleet', 'other', 'orphan', [
          { action: 'create', filePath: 'a', content: 'a' },
        ]),
      ),
    ).toEqual({
      status: 400,
      body: 'You can only create or edit files when you are on a branch',
    });
    expect(
      await failure(alice.Branches.show('platform/fleet', 'nope')),
    ).toEqual({
      status: 404,
      body: '404 Branch Not Found',
    });
    expect(
      await failure(
        alice.RepositoryFiles.showRaw('platform/fleet', 'missing.txt', 'main'),
      ),
    ).toEqual({ status: 404, body: '404 File Not Found' });
  });

  it('paginates lists with GitLab headers that gitbeaker follows', async () => {
    for (let i = 0; i < 5; i++) {
      await gitlab.api.commitFiles('platform/fleet', {
        files: { [`f${i}`]: `${i}` },
        message: `commit ${i}`,
        author: 'alice',
      });
    }
    const page = await alice.Commits.all('platform/fleet', {
      perPage: 2,
      page: 2,
      showExpanded: true,
    });
    expect(page.data.map(c => c.title)).toEqual(['commit 2', 'commit 1']);
    expect(page.paginationInfo).toEqual({
      total: 6,
      next: 3,
      current: 2,
      previous: 1,
      perPage: 2,
      totalPages: 3,
    });
    const response = await fetch(
      `${gitlab.url}/api/v4/projects/platform%2Ffleet/repository/commits?per_page=4`,
      { headers: { 'PRIVATE-TOKEN': aliceToken } },
    );
    expect(response.headers.get('x-next-page')).toBe('2');
    expect(response.headers.get('link')).toContain('rel="next"');
    // Without a page, gitbeaker follows the Link header through every page.
    const all = await alice.Commits.all('platform/fleet', { perPage: 2 });
    expect(all).toHaveLength(6);
  });

  it('answers 401, 403 and 404 like GitLab', async () => {
    const bare = await fetch(`${gitlab.url}/api/v4/user`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ message: '401 Unauthorized' });

    const unknown = new Gitlab({
      host: gitlab.url,
      token: 'glpat-not-a-token',
    });
    expect(await failure(unknown.Users.showCurrentUser())).toEqual({
      status: 401,
      body: '401 Unauthorized',
    });

    const bearer = await fetch(`${gitlab.url}/api/v4/user`, {
      headers: { Authorization: `Bearer ${aliceToken}` },
    });
    expect((await bearer.json()).username).toBe('alice');

    const readOnlyToken = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['read_api'],
    }).token;
    const readOnly = new Gitlab({ host: gitlab.url, token: readOnlyToken });
    expect((await readOnly.Projects.show('platform/fleet')).path).toBe('fleet');
    expect(await failure(readOnly.Projects.create({ path: 'nope' }))).toEqual({
      status: 403,
      body: 'insufficient_scope',
    });
    const denied = await fetch(`${gitlab.url}/api/v4/projects`, {
      method: 'POST',
      headers: {
        'PRIVATE-TOKEN': readOnlyToken,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ path: 'nope' }),
    });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      error: 'insufficient_scope',
      error_description:
        'The request requires higher privileges than provided by the access token.',
      scope: 'api',
    });
    const repoOnly = new Gitlab({
      host: gitlab.url,
      token: gitlab.api.createPersonalAccessToken('alice', {
        scopes: ['read_repository'],
      }).token,
    });
    expect(
      await failure(repoOnly.Projects.show('platform/fleet')),
    ).toMatchObject({ status: 403 });
    // read_repository does allow the repository files API.
    expect(
      await repoOnly.RepositoryFiles.showRaw(
        'platform/fleet',
        'README.md',
        'main',
      ),
    ).toBe('# Fleet\n');

    expect(await failure(alice.Projects.show('platform/missing'))).toEqual({
      status: 404,
      body: '404 Project Not Found',
    });
    // A Developer may not manage hooks (Maintainer and above).
    gitlab.api.addMember(
      { project: 'platform/fleet' },
      'bob',
      AccessLevel.Developer,
    );
    const bob = new Gitlab({
      host: gitlab.url,
      token: gitlab.api.createPersonalAccessToken('bob', { scopes: ['api'] })
        .token,
    });
    expect(await failure(bob.ProjectHooks.all('platform/fleet'))).toEqual({
      status: 403,
      body: '403 Forbidden',
    });
    expect(await failure(alice.ProjectHooks.add('platform/fleet', ''))).toEqual(
      {
        status: 400,
        body: 'url is missing',
      },
    );
  });

  it('sets and lists commit statuses with GitLab state transitions', async () => {
    const sha = (await alice.Branches.show('platform/fleet', 'main')).commit
      .id as string;
    const pending = await alice.Commits.editStatus(
      'platform/fleet',
      sha,
      'pending',
      {
        name: 'kustomization/flux-system/abc',
        description: 'reconciliation in progress',
      },
    );
    expect(pending).toMatchObject({
      sha,
      ref: 'main',
      status: 'pending',
      name: 'kustomization/flux-system/abc',
      author: { username: 'alice' },
    });
    // pending → pending is not a transition GitLab allows.
    expect(
      await failure(
        alice.Commits.editStatus('platform/fleet', sha, 'pending', {
          name: 'kustomization/flux-system/abc',
        }),
      ),
    ).toEqual({
      status: 400,
      body: 'Cannot transition status via :enqueue from :pending (Reason(s): Status cannot transition via "enqueue")',
    });
    const success = await alice.Commits.editStatus(
      'platform/fleet',
      sha,
      'success',
      {
        name: 'kustomization/flux-system/abc',
        description: 'reconciliation succeeded',
      },
    );
    expect(success).toMatchObject({ id: pending.id, status: 'success' });
    const other = await alice.Commits.editStatus(
      'platform/fleet',
      sha,
      'failed',
      {},
    );
    expect(other).toMatchObject({ name: 'default', status: 'failed' });

    const statuses = await alice.Commits.allStatuses('platform/fleet', sha);
    expect(statuses.map(s => [s.name, s.status])).toEqual([
      ['kustomization/flux-system/abc', 'success'],
      ['default', 'failed'],
    ]);

    expect(
      await failure(
        alice.Commits.editStatus('platform/fleet', sha, 'done' as any),
      ),
    ).toEqual({ status: 400, body: 'state does not have a valid value' });
    expect(
      await failure(
        alice.Commits.editStatus('platform/fleet', sha, 'running', {
          description: 'x'.repeat(256),
        }),
      ),
    ).toEqual({
      status: 400,
      body: JSON.stringify({
        description: ['is too long (maximum is 255 characters)'],
      }),
    });
    expect(
      await failure(
        alice.Commits.editStatus('platform/fleet', 'f'.repeat(40), 'success'),
      ),
    ).toEqual({ status: 404, body: '404 Commit Not Found' });
  });

  it('injects failures and latency', async () => {
    gitlab.api.failNext(1, 429, { retryAfterSeconds: 7 });
    const limited = await fetch(`${gitlab.url}/api/v4/user`, {
      headers: { 'PRIVATE-TOKEN': aliceToken },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(
      (
        await fetch(`${gitlab.url}/api/v4/user`, {
          headers: { 'PRIVATE-TOKEN': aliceToken },
        })
      ).status,
    ).toBe(200);

    gitlab.api.failNext(2, 503);
    const first = await fetch(`${gitlab.url}/api/v4/user`, {
      headers: { 'PRIVATE-TOKEN': aliceToken },
    });
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ message: '503 Service Unavailable' });
    // gitbeaker retries 502 and 429 only; a 503 fails the call.
    expect((await failure(alice.Users.showCurrentUser())).status).toBe(503);
    expect((await alice.Users.showCurrentUser()).username).toBe('alice');

    // gitbeaker retries 502 on its own and then succeeds.
    gitlab.api.failNext(2, 502);
    expect((await alice.Users.showCurrentUser()).username).toBe('alice');

    gitlab.api.setLatency(30);
    const started = Date.now();
    await alice.Users.showCurrentUser();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
