import { startGitLab, RunningGitLab } from '@backstage-gitops/sandbox';
import { GitbeakerRequestError } from '@gitbeaker/requester-utils';
import { Gitlab } from '@gitbeaker/rest';
import { retryingRequester } from './gitlabRequester';

jest.setTimeout(60_000);

/**
 * The Git host failing as GitLab.com does under load, against the sandbox GitLab over
 * HTTP with the real gitbeaker client.
 */
describe('retryingRequester against a failing GitLab', () => {
  let gitlab: RunningGitLab;
  let client: InstanceType<typeof Gitlab>;
  const project = 'team/delivery';

  beforeAll(async () => {
    gitlab = await startGitLab();
    gitlab.api.createGroup({ path: 'team' });
    await gitlab.api.createProject({
      namespace: 'team',
      path: 'delivery',
      files: { 'README.md': 'delivery\n' },
    });
    const { token } = gitlab.api.createPersonalAccessToken('root', {
      name: 'test',
      scopes: ['api'],
    });
    client = new Gitlab({
      host: gitlab.url,
      token,
      queryTimeout: 20_000,
      requesterFn: retryingRequester({ baseDelayMs: 20 }),
    });
  });

  afterAll(async () => {
    gitlab.api.failNext(0, 500);
    await gitlab?.stop();
  });

  const sha = async () =>
    (await client.Commits.all(project, { refName: 'main', perPage: 1 }))[0].id;

  it('retries 5xx answers to a read and succeeds', async () => {
    gitlab.api.failNext(3, 500);
    expect(await client.Projects.show(project)).toMatchObject({
      path_with_namespace: project,
    });
    gitlab.api.failNext(2, 502);
    expect((await client.Projects.show(project)).id).toBeDefined();
  });

  it('waits as long as Retry-After says on a 429', async () => {
    gitlab.api.failNext(1, 429, { retryAfterSeconds: 1 });
    const started = Date.now();
    await client.Projects.show(project);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('retries a write only when it was not processed (429, 503)', async () => {
    const commit = await sha();
    gitlab.api.failNext(2, 503);
    await client.Commits.editStatus(project, commit, 'success', {
      name: 'gitops/retried',
    });
    // A 500 may have been processed: the POST is not sent again.
    gitlab.api.failNext(1, 500);
    await expect(
      client.Commits.editStatus(project, commit, 'success', {
        name: 'gitops/not-retried',
      }),
    ).rejects.toBeInstanceOf(GitbeakerRequestError);
    const statuses = await client.Commits.allStatuses(project, commit);
    expect(statuses.map(s => s.name).sort()).toEqual(['gitops/retried']);
  });

  it('gives up after three retries with the host\u2019s answer', async () => {
    gitlab.api.failNext(10, 503);
    const failed = await client.Projects.show(project).catch(e => e);
    expect(failed).toBeInstanceOf(GitbeakerRequestError);
    expect(failed.cause.response.status).toBe(503);
    // Each call is one attempt and three retries: four of the ten failures.
    await expect(client.Projects.show(project)).rejects.toBeInstanceOf(
      GitbeakerRequestError,
    );
    expect((await client.Projects.show(project)).id).toBeDefined();
  });
});
