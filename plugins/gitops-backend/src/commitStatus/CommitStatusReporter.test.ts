import { mockServices } from '@backstage/backend-test-utils';
import { CachedFluxObject } from '../cache/types';
import { CommitStatus } from '../gitHosts';
import { CommitStatusReporter } from './CommitStatusReporter';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const OLD = 'c'.repeat(40);
const URL = 'https://gitlab.example.com/team/delivery.git';

/** The watch cache's view of one cluster, changed by the test as Flux would. */
function world() {
  const source: CachedFluxObject = {
    cluster: 'dev',
    kind: 'GitRepository',
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    metadata: { name: 'delivery', namespace: 'flux-system', generation: 1 },
    spec: { url: URL, ref: { branch: 'main' } },
    status: { artifact: { revision: `main@sha1:${OLD}` } },
  };
  const kustomization: CachedFluxObject = {
    cluster: 'dev',
    kind: 'Kustomization',
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    metadata: { name: 'podinfo', namespace: 'flux-system', generation: 1 },
    spec: { path: './apps/podinfo/dev' },
    status: {},
  };
  const cache = {
    get: (_c: string, kind: string) =>
      kind === 'Kustomization' ? kustomization : source,
    consumersOfSource: () => [kustomization],
    isStale: () => false,
  };
  const posted: Array<{ sha: string } & CommitStatus> = [];
  const host = {
    kind: 'gitlab' as const,
    ensurePushWebhook: jest.fn(),
    removeWebhook: jest.fn(),
    readAccess: jest.fn(),
    setCommitStatus: async (_r: unknown, sha: string, status: CommitStatus) => {
      posted.push({ sha, ...status });
    },
  };
  const onOutcome = jest.fn();
  const reporter = new CommitStatusReporter({
    cache,
    hosts: { for: () => host },
    deliveries: {
      list: async () => [
        {
          id: '1',
          entityRef: 'component:default/podinfo',
          url: URL,
          kind: 'git' as const,
          path: 'apps/podinfo',
          origin: 'annotation' as const,
          createdAt: '',
          updatedAt: '',
        },
      ],
    },
    settings: {
      enabled: true,
      timeoutMs: 2_000,
      appBaseUrl: 'https://backstage.example.com',
    },
    logger: mockServices.logger.mock(),
    onOutcome,
    pollMs: 10,
  });
  const fetched = (sha: string) => {
    source.status = { artifact: { revision: `main@sha1:${sha}` } };
  };
  const applied = (sha: string, ready: 'True' | 'False', message: string) => {
    kustomization.status = {
      observedGeneration: 1,
      lastAttemptedRevision: `main@sha1:${sha}`,
      ...(ready === 'True' ? { lastAppliedRevision: `main@sha1:${sha}` } : {}),
      conditions: [{ type: 'Ready', status: ready, message }],
    };
  };
  return { reporter, posted, onOutcome, fetched, applied };
}

const follow = (reporter: CommitStatusReporter, sha: string, ref?: string) =>
  reporter.follow({
    cluster: 'dev',
    source: {
      kind: 'GitRepository',
      namespace: 'flux-system',
      name: 'delivery',
    },
    sha,
    ref: ref ?? 'refs/heads/main',
  });

describe('CommitStatusReporter', () => {
  it('posts pending, then success once the Kustomization applied the commit and is Ready', async () => {
    const { reporter, posted, fetched, applied } = world();
    const done = follow(reporter, A);
    setTimeout(() => fetched(A), 30);
    setTimeout(() => applied(A, 'True', 'Applied revision'), 60);
    const [outcome] = await done;
    expect(outcome).toMatchObject({
      state: 'success',
      entityRef: 'component:default/podinfo',
      targetUrl:
        'https://backstage.example.com/catalog/default/component/podinfo/gitops',
    });
    expect(posted.map(p => [p.sha, p.state, p.context])).toEqual([
      [A, 'pending', 'gitops/dev/flux-system/podinfo'],
      [A, 'success', 'gitops/dev/flux-system/podinfo'],
    ]);
    expect(posted[1].description).toMatch(/^Applied on dev in \d+\.\d s$/);
  });

  it('reports a commit once when its push is delivered again, during the sync or after', async () => {
    const { reporter, posted, fetched, applied } = world();
    const first = follow(reporter, A);
    const redelivered = follow(reporter, A);
    setTimeout(() => fetched(A), 30);
    setTimeout(() => applied(A, 'True', 'Applied revision'), 60);
    const [[outcome], [joined]] = await Promise.all([first, redelivered]);
    expect(joined).toBe(outcome);
    const [[later]] = await Promise.all([follow(reporter, A)]);
    expect(later).toBe(outcome);
    expect(posted.map(p => [p.sha, p.state])).toEqual([
      [A, 'pending'],
      [A, 'success'],
    ]);
    // Another commit is reported on its own.
    const next = follow(reporter, B);
    setTimeout(() => fetched(B), 30);
    setTimeout(() => applied(B, 'True', 'Applied revision'), 60);
    await next;
    expect(posted.map(p => [p.sha, p.state]).slice(2)).toEqual([
      [B, 'pending'],
      [B, 'success'],
    ]);
  });

  it('posts failed with Flux\u2019s message when the attempt at the commit left it not Ready', async () => {
    const { reporter, posted, onOutcome, fetched, applied } = world();
    const done = follow(reporter, A);
    fetched(A);
    applied(A, 'False', 'kustomize build failed: missing resource');
    const [outcome] = await done;
    expect(outcome.state).toBe('failed');
    expect(posted[1].description).toBe(
      'Failed on dev: kustomize build failed: missing resource',
    );
    expect(onOutcome).toHaveBeenCalledWith(
      expect.objectContaining({ state: 'failed' }),
    );
  });

  it('cancels a commit the source moved past, rather than failing it after the timeout', async () => {
    const { reporter, posted, fetched } = world();
    const done = follow(reporter, A);
    setTimeout(() => fetched(B), 30);
    const [outcome] = await done;
    expect(outcome.state).toBe('canceled');
    expect(posted[1]).toMatchObject({
      state: 'canceled',
      description: `Superseded on dev: the source moved on to main@sha1:${B}`,
    });
  });

  it('fails after the timeout, saying what it was waiting for', async () => {
    const { reporter, posted } = world();
    const [outcome] = await follow(reporter, A);
    expect(outcome.state).toBe('failed');
    expect(posted[1].description).toBe(
      'Failed on dev: still waiting for the source to fetch the commit after 2 s',
    );
  });

  it('does not report a push to a branch the source does not follow', async () => {
    const { reporter, posted } = world();
    expect(await follow(reporter, A, 'refs/heads/feature')).toEqual([]);
    expect(posted).toEqual([]);
  });
});
