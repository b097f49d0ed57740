import { Gitlab } from '@gitbeaker/rest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gitEnvironment, ZERO_SHA } from '../git';
import { PushNotification, RunningGitLab, startGitLab } from '.';

const exec = promisify(execFile);

/** The git CLI as a user runs it: no credential helper, no prompt. */
async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await exec('git', ['-c', 'credential.helper=', ...args], {
    cwd,
    env: gitEnvironment({
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Alice',
      GIT_AUTHOR_EMAIL: 'alice@example.com',
      GIT_COMMITTER_NAME: 'Alice',
      GIT_COMMITTER_EMAIL: 'alice@example.com',
    }),
  });
  return stdout;
}

/** `http://user:secret@127.0.0.1:port/path.git` */
function withCredentials(
  url: string,
  username: string,
  password: string,
): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(username);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

interface Received {
  headers: IncomingHttpHeaders;
  body: any;
}

/** An HTTP endpoint that records what hooks send and answers a chosen status. */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  answer: { status: number };
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const answer = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', chunk => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      res.writeHead(answer.status).end();
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    answer,
    close: () => new Promise(resolve => server.close(() => resolve())),
  };
}

describe('Git over HTTP and push hooks', () => {
  let gitlab: RunningGitLab;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let work: string;
  let alice: InstanceType<typeof Gitlab>;
  let aliceToken: string;
  let projectUrl: string;

  beforeEach(async () => {
    gitlab = await startGitLab();
    receiver = await startReceiver();
    work = await mkdtemp(join(tmpdir(), 'gitlab-git-test-'));
    gitlab.api.createUser({ username: 'alice', name: 'Alice' });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    projectUrl = (
      await gitlab.api.createProject({
        namespace: 'platform',
        path: 'fleet',
        files: { 'README.md': '# Fleet\n' },
      })
    ).httpUrl;
    aliceToken = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['api'],
    }).token;
    alice = new Gitlab({ host: gitlab.url, token: aliceToken });
  });

  afterEach(async () => {
    await gitlab.stop();
    await receiver.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Clones with a token, commits a file and returns the clone directory. */
  async function cloneAndCommit(token: string, file: string): Promise<string> {
    const dir = join(work, `clone-${file}`);
    await git([
      'clone',
      '--quiet',
      withCredentials(projectUrl, 'anything', token),
      dir,
    ]);
    await writeFile(join(dir, file), `${file}\n`);
    await git(['add', file], dir);
    await git(['commit', '--quiet', '-m', `Add ${file}`], dir);
    return dir;
  }

  it('manages project hooks without ever returning their token', async () => {
    const hook = await alice.ProjectHooks.add('platform/fleet', receiver.url, {
      token: 's3cret',
      pushEvents: true,
      tagPushEvents: true,
      pushEventsBranchFilter: 'main',
    });
    expect(hook).toMatchObject({
      url: receiver.url,
      push_events: true,
      tag_push_events: true,
      push_events_branch_filter: 'main',
      branch_filter_strategy: 'wildcard',
      enable_ssl_verification: true,
      merge_requests_events: false,
    });
    expect(hook).not.toHaveProperty('token');
    expect(await alice.ProjectHooks.all('platform/fleet')).toEqual([hook]);

    const edited = await alice.ProjectHooks.edit(
      'platform/fleet',
      hook.id,
      receiver.url,
      {
        tagPushEvents: false,
      },
    );
    expect(edited).toMatchObject({
      tag_push_events: false,
      push_events_branch_filter: 'main',
    });
    expect(await alice.ProjectHooks.show('platform/fleet', hook.id)).toEqual(
      edited,
    );

    await alice.ProjectHooks.remove('platform/fleet', hook.id);
    expect(await alice.ProjectHooks.all('platform/fleet')).toEqual([]);
  });

  it('delivers a Push Hook with X-Gitlab-Token after a git push with a PAT', async () => {
    const hook = await alice.ProjectHooks.add('platform/fleet', receiver.url, {
      token: 's3cret',
    });
    const before = (await gitlab.api
      .repository('platform/fleet')
      .resolveCommit('main'))!;
    const clone = await cloneAndCommit(aliceToken, 'app.yaml');
    const after = (await git(['rev-parse', 'HEAD'], clone)).trim();
    await git(['push', '--quiet', 'origin', 'main'], clone);
    await gitlab.api.waitForHooks();

    expect(receiver.received).toHaveLength(1);
    const [{ headers, body }] = receiver.received;
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'x-gitlab-event': 'Push Hook',
      'x-gitlab-token': 's3cret',
      'x-gitlab-instance': gitlab.url,
      'user-agent': 'GitLab/18.4.1',
    });
    expect(headers['x-gitlab-event-uuid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers['x-gitlab-webhook-uuid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toMatchObject({
      object_kind: 'push',
      event_name: 'push',
      before,
      after,
      ref: 'refs/heads/main',
      checkout_sha: after,
      user_username: 'alice',
      user_name: 'Alice',
      project_id: hook.project_id,
      project: {
        id: hook.project_id,
        name: 'fleet',
        path_with_namespace: 'platform/fleet',
        git_http_url: projectUrl,
        git_ssh_url: 'git@127.0.0.1:platform/fleet.git',
        web_url: `${gitlab.url}/platform/fleet`,
        default_branch: 'main',
      },
      repository: { name: 'fleet', git_http_url: projectUrl },
      total_commits_count: 1,
      commits: [
        {
          id: after,
          message: 'Add app.yaml\n',
          title: 'Add app.yaml',
          url: `${gitlab.url}/platform/fleet/-/commit/${after}`,
          author: { name: 'Alice', email: 'alice@example.com' },
          added: ['app.yaml'],
          modified: [],
          removed: [],
        },
      ],
    });
    expect(gitlab.api.hookDeliveries()).toEqual([
      expect.objectContaining({
        hookId: hook.id,
        url: receiver.url,
        event: 'Push Hook',
        ref: 'refs/heads/main',
        statusCode: 200,
      }),
    ]);
  });

  it('clones with a deploy token, whose username must match', async () => {
    const deployToken = gitlab.api.createDeployToken(
      { project: 'platform/fleet' },
      { name: 'flux', scopes: ['read_repository'] },
    );
    const dir = join(work, 'deploy');
    await git([
      'clone',
      '--quiet',
      withCredentials(projectUrl, deployToken.username, deployToken.token),
      dir,
    ]);
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toBe('# Fleet\n');

    await expect(
      git([
        'clone',
        '--quiet',
        withCredentials(projectUrl, 'someone', deployToken.token),
        join(work, 'x'),
      ]),
    ).rejects.toThrow(/Authentication failed|401/);

    // A group deploy token reaches the group's projects.
    const groupToken = gitlab.api.createDeployToken(
      { group: 'platform' },
      { name: 'group', scopes: ['read_repository'] },
    );
    await git([
      'clone',
      '--quiet',
      withCredentials(projectUrl, groupToken.username, groupToken.token),
      join(work, 'group'),
    ]);

    // A deploy token cannot push.
    await writeFile(join(dir, 'x.txt'), 'x\n');
    await git(['add', 'x.txt'], dir);
    await git(['commit', '--quiet', '-m', 'x'], dir);
    await expect(
      git(['push', '--quiet', 'origin', 'main'], dir),
    ).rejects.toThrow(/403/);
  });

  it('refuses a push with a read-only token and fires no hook', async () => {
    await alice.ProjectHooks.add('platform/fleet', receiver.url);
    const readOnly = gitlab.api.createPersonalAccessToken('alice', {
      scopes: ['read_repository'],
    }).token;
    const before = await gitlab.api.repository('platform/fleet').refs();
    const clone = await cloneAndCommit(readOnly, 'denied.txt');
    await expect(
      git(['push', '--quiet', 'origin', 'main'], clone),
    ).rejects.toThrow(/403/);
    await gitlab.api.waitForHooks();
    expect(await gitlab.api.repository('platform/fleet').refs()).toEqual(
      before,
    );
    expect(receiver.received).toEqual([]);
  });

  it('asks anonymous callers to authenticate for private projects only', async () => {
    const response = await fetch(
      `${projectUrl}/info/refs?service=git-upload-pack`,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'Basic realm="GitLab"',
    );
    await expect(
      git(['clone', '--quiet', projectUrl, join(work, 'anon')]),
    ).rejects.toThrow();

    const publicProject = await gitlab.api.createProject({
      namespace: 'platform',
      path: 'charts',
      visibility: 'public',
      files: { 'Chart.yaml': 'name: demo\n' },
    });
    await git([
      'clone',
      '--quiet',
      publicProject.httpUrl,
      join(work, 'public'),
    ]);
    expect(await readFile(join(work, 'public/Chart.yaml'), 'utf8')).toBe(
      'name: demo\n',
    );

    const missing = await fetch(
      `${gitlab.url}/platform/nothing.git/info/refs?service=git-upload-pack`,
      {
        headers: {
          Authorization: `Basic ${Buffer.from(`x:${aliceToken}`).toString(
            'base64',
          )}`,
        },
      },
    );
    expect(missing.status).toBe(404);
  });

  it('accepts oauth2:<token> in an extra header and delivers Tag Push Hooks', async () => {
    await alice.ProjectHooks.add('platform/fleet', receiver.url, {
      pushEvents: false,
      tagPushEvents: true,
    });
    const dir = join(work, 'header');
    const header = `http.extraHeader=Authorization: Basic ${Buffer.from(
      `oauth2:${aliceToken}`,
    ).toString('base64')}`;
    await git(['-c', header, 'clone', '--quiet', projectUrl, dir]);
    await git(['tag', '-a', 'v1.0.0', '-m', 'Release 1.0.0'], dir);
    const commit = (await git(['rev-parse', 'HEAD'], dir)).trim();
    const tagObject = (await git(['rev-parse', 'v1.0.0'], dir)).trim();
    await git(['-c', header, 'push', '--quiet', 'origin', 'v1.0.0'], dir);
    await gitlab.api.waitForHooks();

    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0].headers['x-gitlab-event']).toBe(
      'Tag Push Hook',
    );
    expect(receiver.received[0].headers).not.toHaveProperty('x-gitlab-token');
    expect(receiver.received[0].body).toMatchObject({
      object_kind: 'tag_push',
      event_name: 'tag_push',
      ref: 'refs/tags/v1.0.0',
      before: ZERO_SHA,
      after: tagObject,
      checkout_sha: commit,
      message: 'Release 1.0.0\n',
      commits: [],
      total_commits_count: 0,
    });
  });

  it('fires hooks for API and programmatic commits, honouring branch filters', async () => {
    await alice.ProjectHooks.add('platform/fleet', receiver.url, {
      pushEventsBranchFilter: 'release/*',
    });
    const everything = await alice.ProjectHooks.add(
      'platform/fleet',
      `${receiver.url}?all`,
    );
    const notifications: PushNotification[] = [];
    const unsubscribe = gitlab.api.onPush(n => notifications.push(n));

    const viaApi = await alice.Commits.create(
      'platform/fleet',
      'main',
      'API change',
      [{ action: 'update', filePath: 'README.md', content: '# Fleet 2\n' }],
    );
    const viaHelper = await gitlab.api.commitFiles('platform/fleet', {
      branch: 'release/1.0',
      files: { VERSION: '1.0\n' },
      message: 'Release branch',
      author: 'alice',
    });
    await gitlab.api.waitForHooks();
    unsubscribe();

    const deliveries = gitlab.api
      .hookDeliveries()
      .map(d => [d.hookId === everything.id, d.ref]);
    expect(deliveries).toEqual(
      expect.arrayContaining([
        [true, 'refs/heads/main'],
        [true, 'refs/heads/release/1.0'],
        [false, 'refs/heads/release/1.0'],
      ]),
    );
    expect(deliveries).toHaveLength(3);
    expect(
      notifications.map(n => [n.event, n.payload.ref, n.payload.after]),
    ).toEqual([
      ['Push Hook', 'refs/heads/main', viaApi.id],
      ['Push Hook', 'refs/heads/release/1.0', viaHelper],
    ]);
    // A new branch lists only the commits the default branch does not have.
    expect(notifications[1].payload).toMatchObject({
      before: ZERO_SHA,
      total_commits_count: 1,
      commits: [{ id: viaHelper, added: ['VERSION'] }],
    });
  });

  it('records failing hook endpoints without failing the push', async () => {
    receiver.answer.status = 500;
    await alice.ProjectHooks.add('platform/fleet', receiver.url);
    await alice.ProjectHooks.add(
      'platform/fleet',
      'http://127.0.0.1:1/unreachable',
    );
    await alice.ProjectHooks.add(
      'platform/fleet',
      'http://example.com/outside',
    );
    const clone = await cloneAndCommit(aliceToken, 'f.txt');
    await git(['push', '--quiet', 'origin', 'main'], clone);
    await gitlab.api.waitForHooks();

    const byUrl = Object.fromEntries(
      gitlab.api.hookDeliveries().map(d => [d.url, d]),
    );
    expect(byUrl[receiver.url].statusCode).toBe(500);
    expect(byUrl['http://127.0.0.1:1/unreachable'].statusCode).toBeUndefined();
    expect(byUrl['http://127.0.0.1:1/unreachable'].error).toBeTruthy();
    expect(byUrl['http://example.com/outside'].error).toMatch(/loopback/);
    expect(
      await gitlab.api.repository('platform/fleet').resolveCommit('main'),
    ).toBe((await git(['rev-parse', 'HEAD'], clone)).trim());
  });

  it('injects failures into git requests when asked', async () => {
    gitlab.api.failNext(1, 503, { scope: 'git' });
    await expect(
      git([
        'clone',
        '--quiet',
        withCredentials(projectUrl, 'x', aliceToken),
        join(work, 'f'),
      ]),
    ).rejects.toThrow(/503/);
    await git([
      'clone',
      '--quiet',
      withCredentials(projectUrl, 'x', aliceToken),
      join(work, 'g'),
    ]);
  });
});
