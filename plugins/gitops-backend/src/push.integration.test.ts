import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  pullArtifact,
  SandboxWorld,
  startWorld,
} from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import {
  pushBackendConfig,
  pushBackendFeatures,
} from './__testUtils__/pushBackend';

jest.setTimeout(120_000);

const WEBHOOK_SECRET = 'the-events-module-secret';
const CLUSTERS = ['dev', 'prod'];
const NS = 'flux-system';
const GIT = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};
const RECEIVER = {
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  kind: 'Receiver',
};

interface GitLabStatus {
  name: string;
  status: string;
  target_url: string | null;
  description: string | null;
}

/**
 * Immediate reconciliation end to end, over real HTTP: the plugin registers the GitLab
 * project hook and the Flux Receivers itself; a commit makes GitLab post its Push Hook
 * to the events backend's GitLab ingress, the plugin calls each cluster's receiver,
 * Flux reconciles, and the commit gets its statuses. The sources poll only every hour,
 * so nothing but the webhook can make the sync this fast.
 */
describe('a git push, end to end', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  const scheduler = mockServices.scheduler();
  const sharedEvents = mockServices.events();
  const auth = {
    Authorization: mockCredentials.user.header('user:default/guest'),
  };
  const project = () =>
    encodeURIComponent(world.demo.project.pathWithNamespace);
  const gitlabApi = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${world.gitlab.url}/api/v4${path}`, {
      headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin },
    });
    if (!res.ok) throw new Error(`GitLab ${path}: ${res.status}`);
    return res.json() as Promise<T>;
  };
  const receiverRequests = () =>
    CLUSTERS.map(name => world.cluster(name).notification.requests.length);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-push-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
    const backend = await startTestBackend({
      features: [
        ...pushBackendFeatures({ events: sharedEvents, scheduler }),
        mockServices.rootConfig.factory({
          data: pushBackendConfig(world, WEBHOOK_SECRET),
        }),
        catalogServiceMock.factory({
          entities: [
            {
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Component',
              metadata: { name: 'storefront', namespace: 'default' },
              spec: {
                type: 'service',
                owner: 'group:default/team-apps',
                lifecycle: 'production',
              },
            },
            {
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Component',
              metadata: { name: 'podinfo', namespace: 'default' },
              spec: {
                type: 'service',
                owner: 'user:default/guest',
                lifecycle: 'production',
              },
            },
          ],
        }),
        mockServices.permissions.mock({
          authorize: async requests =>
            requests.map(() => ({ result: AuthorizeResult.ALLOW })),
        }).factory,
      ],
    });
    server = backend.server;
    const registered = await request(server)
      .post('/api/gitops/delivery-repositories')
      .set(auth)
      .send({
        entityRef: 'component:default/podinfo',
        url: world.demo.project.httpUrl,
        path: 'apps/podinfo',
      });
    const registeredOci = await request(server)
      .post('/api/gitops/delivery-repositories')
      .set(auth)
      .send({
        entityRef: 'component:default/storefront',
        url: world.demo.ociUrl,
      });
    if (registered.status !== 201 || registeredOci.status !== 201) {
      throw new Error(
        `Registering the repositories failed: ${registered.text} ${registeredOci.text}`,
      );
    }

    // The scheduled tasks, run as the scheduler would once the caches are in sync.
    await eventually('a Receiver on each cluster', async () => {
      await scheduler.triggerTask('gitops-receivers');
      const res = await request(server).get('/api/gitops/receivers').set(auth);
      return (
        res.body.items?.filter(
          (r: { source: { kind: string } }) =>
            r.source.kind === 'GitRepository',
        ).length === CLUSTERS.length
      );
    });
    await eventually('Flux to report each webhook path', () =>
      CLUSTERS.every(
        name =>
          (
            world
              .cluster(name)
              .api.store.get(RECEIVER, NS, 'gitops-git-team-delivery')
              ?.status as { webhookPath?: string } | undefined
          )?.webhookPath,
      ),
    );
    await scheduler.triggerTask('gitops-webhooks');
    // The watch caches see the webhook paths a moment after the clusters store them.
    await new Promise(resolve => setTimeout(resolve, 1_000));
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('registers the project hook to the events ingress', async () => {
    const hooks = await gitlabApi<Array<{ url: string; push_events: boolean }>>(
      `/projects/${project()}/hooks`,
    );
    expect(hooks).toEqual([
      expect.objectContaining({
        url: expect.stringMatching(
          /^http:\/\/localhost:\d+\/api\/events\/http\/gitlab$/,
        ),
        push_events: true,
      }),
    ]);
  });

  it('reconciles both clusters through their receivers and sets success on the commit', async () => {
    const pushedAt = Date.now();
    const sha = await world.gitlab.api.commitFiles(
      world.demo.project.pathWithNamespace,
      {
        files: { 'notes/push.md': `Pushed at ${new Date().toISOString()}\n` },
        message: 'A push that should reconcile at once',
      },
    );
    await world.gitlab.api.waitForHooks();
    const delivery = world.gitlab.api
      .hookDeliveries()
      .find(d => d.event === 'Push Hook' && (d.payload as any).after === sha);
    expect(delivery?.statusCode).toBe(202);

    const readyAt = await eventually(
      'podinfo on both clusters at the pushed commit',
      () =>
        CLUSTERS.every(name => {
          const status = world
            .cluster(name)
            .api.store.get(KUSTOMIZATION, NS, 'podinfo')?.status as
            | { lastAppliedRevision?: string; conditions?: any[] }
            | undefined;
          const ready = status?.conditions?.find(c => c.type === 'Ready');
          return (
            String(status?.lastAppliedRevision).endsWith(sha) &&
            ready?.status === 'True'
          );
        }) && Date.now(),
      30_000,
    );
    // eslint-disable-next-line no-console
    console.info(
      `push → podinfo Ready on ${CLUSTERS.join(' and ')}: ${
        readyAt - pushedAt
      } ms (source interval 1h)`,
    );

    const receivers = await request(server)
      .get('/api/gitops/receivers')
      .set(auth);
    const gitReceivers = receivers.body.items.filter(
      (r: { source: { kind: string } }) => r.source.kind === 'GitRepository',
    );
    expect(gitReceivers).toHaveLength(CLUSTERS.length);
    for (const receiver of gitReceivers) {
      expect(receiver).toMatchObject({ lastResult: 'succeeded' });
    }
    // The entity's own view lists the receivers of its delivery repository only.
    const ofPodinfo = await request(server)
      .get('/api/gitops/entities/component/default/podinfo/receivers')
      .set(auth);
    expect(ofPodinfo.status).toBe(200);
    expect(
      ofPodinfo.body.items.map(
        (r: { cluster: string; name: string; lastResult: string }) =>
          `${r.cluster}/${r.name}: ${r.lastResult}`,
      ),
    ).toEqual(
      CLUSTERS.map(cluster => `${cluster}/gitops-git-team-delivery: succeeded`),
    );

    const statuses = await eventually(
      'success statuses for podinfo on both clusters',
      async () => {
        const latest = await gitlabApi<GitLabStatus[]>(
          `/projects/${project()}/repository/commits/${sha}/statuses`,
        );
        const ours = latest.filter(s => s.name.startsWith('gitops/'));
        return CLUSTERS.every(cluster =>
          ours.some(
            s =>
              s.name === `gitops/${cluster}/${NS}/podinfo` &&
              s.status === 'success',
          ),
        )
          ? ours
          : undefined;
      },
    );
    expect(
      statuses.find(s => s.name === `gitops/dev/${NS}/podinfo`),
    ).toMatchObject({
      target_url:
        'http://localhost:3000/catalog/default/component/podinfo/gitops',
      description: expect.stringMatching(/^Applied on dev in \d+\.\d s$/),
    });
    // Every Kustomization of the source is reported (GitLab updates a status of the
    // same name in place, from pending to success).
    expect(statuses.map(s => s.name).sort()).toEqual(
      CLUSTERS.flatMap(cluster =>
        ['infrastructure', 'payments', 'podinfo'].map(
          name => `gitops/${cluster}/${NS}/${name}`,
        ),
      ).sort(),
    );
  });

  it("sets failed, with Flux's reason, when the pushed commit does not apply", async () => {
    const broken = await world.gitlab.api.commitFiles(
      world.demo.project.pathWithNamespace,
      {
        files: {
          'apps/podinfo/dev/kustomization.yaml':
            'resources:\n  - ../does-not-exist\n',
        },
        message: 'Break podinfo on dev',
      },
    );
    const failed = await eventually(
      'a failed status for podinfo on dev',
      async () =>
        (
          await gitlabApi<GitLabStatus[]>(
            `/projects/${project()}/repository/commits/${broken}/statuses`,
          )
        ).find(
          s => s.name === `gitops/dev/${NS}/podinfo` && s.status === 'failed',
        ),
      30_000,
    );
    expect(failed.description).toMatch(/^Failed on dev: .*does-not-exist/);
    // The other Kustomizations applied the same commit.
    const prod = await eventually('prod reported', async () =>
      (
        await gitlabApi<GitLabStatus[]>(
          `/projects/${project()}/repository/commits/${broken}/statuses`,
        )
      ).find(
        s => s.name === `gitops/prod/${NS}/podinfo` && s.status !== 'pending',
      ),
    );
    expect(prod.status).toBe('success');

    const repaired = await world.gitlab.api.commitFiles(
      world.demo.project.pathWithNamespace,
      {
        files: {
          'apps/podinfo/dev/kustomization.yaml': await world.gitlab.api
            .repository(world.demo.project.pathWithNamespace)
            .readFile(`${broken}~1`, 'apps/podinfo/dev/kustomization.yaml')
            .then(content => String(content)),
        },
        message: 'Repair podinfo on dev',
      },
    );
    await eventually('podinfo on dev repaired', async () =>
      (
        await gitlabApi<GitLabStatus[]>(
          `/projects/${project()}/repository/commits/${repaired}/statuses`,
        )
      ).some(
        s => s.name === `gitops/dev/${NS}/podinfo` && s.status === 'success',
      ),
    );
  });

  it('refuses a push with a forged token before anything reaches a cluster', async () => {
    const before = receiverRequests();
    const annotations = () =>
      CLUSTERS.map(
        name =>
          world.cluster(name).api.store.get(GIT, NS, 'team-delivery')?.metadata
            .annotations?.['reconcile.fluxcd.io/requestedAt'],
      );
    const annotationsBefore = annotations();
    const payload = {
      object_kind: 'push',
      ref: 'refs/heads/main',
      after: 'a'.repeat(40),
      checkout_sha: 'a'.repeat(40),
      project: { git_http_url: world.demo.project.httpUrl },
    };
    // Wrong, a prefix of the secret, longer than it, missing: all refused alike.
    for (const token of [
      'not-the-secret',
      WEBHOOK_SECRET.slice(0, -1),
      `${WEBHOOK_SECRET}x`,
      undefined,
    ]) {
      const forged = request(server)
        .post('/api/events/http/gitlab')
        .set('Content-Type', 'application/json')
        .set('X-Gitlab-Event', 'Push Hook');
      const res = await (token
        ? forged.set('X-Gitlab-Token', token)
        : forged
      ).send(payload);
      expect(res.status).toBe(403);
    }
    await new Promise(resolve => setTimeout(resolve, 500));
    expect(receiverRequests()).toEqual(before);
    expect(annotations()).toEqual(annotationsBefore);
  });

  describe('CI notify', () => {
    // A service principal, as a Backstage external access token gives.
    const ci = { Authorization: mockCredentials.service.header() };
    const notify = (body: object, headers: Record<string, string> = ci) =>
      request(server).post('/api/gitops/notify').set(headers).send(body);

    it('reconciles the OCI sources at once and reports on the commit the artifact was built from', async () => {
      const sha = await world.gitlab.api.commitFiles(
        world.demo.project.pathWithNamespace,
        {
          files: {
            'apps/storefront/notes.md': `Built at ${new Date().toISOString()}\n`,
          },
          message: 'Storefront: a change CI packages as an artifact',
        },
      );
      // The sandbox's CI pushes `latest` built from the commit, as the demo's pipeline does.
      const workDir = await mkdtemp(join(tmpdir(), 'gitops-pull-'));
      const artifact = await eventually(
        'the pipeline to push latest',
        async () => {
          const pulled = await pullArtifact({
            url: world.demo.ociUrl,
            insecure: true,
            credentials: {
              username: world.demo.tokens.ciPushToken.username,
              password: world.demo.tokens.ciPushToken.token,
            },
            ref: { tag: 'latest' },
            destination: workDir,
          });
          return pulled.metadata['org.opencontainers.image.revision']?.endsWith(
            sha,
          )
            ? pulled
            : undefined;
        },
        30_000,
      );
      await rm(workDir, { recursive: true, force: true });
      // The same push reached the Git source through its receiver: storefront depends
      // on infrastructure, which must have applied it first (else storefront is, as
      // `flux reconcile` would say, DependencyNotReady).
      await eventually(
        'infrastructure Ready at the commit on both clusters',
        () =>
          CLUSTERS.every(name => {
            const status = world
              .cluster(name)
              .api.store.get(KUSTOMIZATION, NS, 'infrastructure')?.status as
              | { lastAppliedRevision?: string; conditions?: any[] }
              | undefined;
            return (
              String(status?.lastAppliedRevision).endsWith(sha) &&
              status?.conditions?.some(
                c => c.type === 'Ready' && c.status === 'True',
              )
            );
          }),
        30_000,
      );

      const notifiedAt = Date.now();
      const res = await notify({
        repository: world.demo.ociUrl,
        tag: 'latest',
        digest: artifact.digest,
        commit: sha,
      });
      expect(res.status).toBe(202);
      expect(
        res.body.items.map((op: any) => `${op.cluster}/${op.target.name}`),
      ).toEqual(
        expect.arrayContaining(
          CLUSTERS.map(cluster => `${cluster}/storefront`),
        ),
      );
      for (const operation of res.body.items) {
        expect(operation).toMatchObject({
          entityRef: 'component:default/storefront',
          action: 'reconcile',
          withSource: true,
        });
      }

      const finished = await eventually('every operation Ready', async () => {
        const operations = await Promise.all(
          res.body.items.map(
            async (op: { id: string }) =>
              (
                await request(server)
                  .get(`/api/gitops/operations/${op.id}`)
                  .set(auth)
              ).body,
          ),
        );
        if (operations.every(op => op.status === 'succeeded'))
          return operations;
        // Said when it times out: where each operation stands.
        throw new Error(
          operations
            .map(
              op =>
                `${op.cluster}: ${op.status} ${op.error ?? ''} after ${op.steps
                  ?.map((step: { type: string }) => step.type)
                  .join(', ')}`,
            )
            .join('; '),
        );
      });
      // eslint-disable-next-line no-console
      console.info(
        `notify → storefront Ready on ${CLUSTERS.join(' and ')}: ${
          Date.now() - notifiedAt
        } ms (source interval 1h)`,
      );
      expect(finished).toHaveLength(CLUSTERS.length);

      const statuses = await eventually('success on the commit', async () => {
        const latest = await gitlabApi<GitLabStatus[]>(
          `/projects/${project()}/repository/commits/${sha}/statuses`,
        );
        const ours = CLUSTERS.map(cluster =>
          latest.find(s => s.name === `gitops/${cluster}/${NS}/storefront`),
        );
        return ours.every(s => s?.status === 'success') && ours;
      });
      expect(statuses[0]).toMatchObject({
        target_url:
          'http://localhost:3000/catalog/default/component/storefront/gitops',
      });
    });

    it('answers 400, 403 and 404 for bad notifications, starting nothing', async () => {
      const bad = await notify({
        repository: world.demo.ociUrl,
        commit: 'abc',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(
        /commit: must be a full 40-character commit sha/,
      );

      const tagOnGit = await notify({
        repository: world.demo.project.httpUrl,
        tag: 'latest',
      });
      expect(tagOnGit.status).toBe(400);
      expect(tagOnGit.body.error.message).toMatch(/is a Git repository/);

      const unknown = await notify({
        repository: 'https://gitlab.example.com/nobody/nothing.git',
      });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.message).toMatch(
        /is not a registered delivery repository/,
      );

      const asUser = await notify({ repository: world.demo.ociUrl }, auth);
      expect(asUser.status).toBe(403);
    });
  });

  describe('token inventory', () => {
    beforeAll(async () => {
      await scheduler.triggerTask('gitops-tokens-inventory');
    });

    it('lists the credentials and reports the over-privileged one, never a value', async () => {
      const tokens = await request(server).get('/api/gitops/tokens').set(auth);
      expect(tokens.status).toBe(200);
      expect(
        tokens.body.items
          .map((t: { kind: string; name: string }) => `${t.kind} ${t.name}`)
          .sort(),
      ).toEqual([
        'deploy-token flux-read',
        'personal-access-token flux-prod-pull',
        'project-access-token flux-commit-status',
      ]);
      const report = await request(server)
        .get('/api/gitops/tokens/report')
        .set(auth);
      expect(report.status).toBe(200);
      const pat = tokens.body.items.find(
        (t: { name: string }) => t.name === 'flux-prod-pull',
      );
      expect(
        report.body.items
          .filter((f: { tokenId: string }) => f.tokenId === pat.id)
          .map((f: { type: string }) => f.type),
      ).toEqual(['api-scope', 'personal-token']);

      const ofPodinfo = await request(server)
        .get('/api/gitops/entities/component/default/podinfo/tokens')
        .set(auth);
      expect(ofPodinfo.status).toBe(200);
      expect(
        ofPodinfo.body.items.map((t: { name: string }) => t.name).sort(),
      ).toEqual(['flux-commit-status', 'flux-read']);

      const canaries = [
        world.demo.tokens.deployToken.token,
        world.demo.tokens.overPrivilegedToken.token,
        world.demo.tokens.commitStatusToken,
      ];
      for (const body of [tokens.text, report.text, ofPodinfo.text]) {
        for (const canary of canaries) expect(body).not.toContain(canary);
      }
    });

    it('rotates the deploy token and replaces the personal one through the API', async () => {
      const before = (await request(server).get('/api/gitops/tokens').set(auth))
        .body.items;
      const deployToken = before.find(
        (t: { name: string }) => t.name === 'flux-read',
      );
      const pat = before.find(
        (t: { name: string }) => t.name === 'flux-prod-pull',
      );
      const refused = await request(server)
        .post(`/api/gitops/tokens/${pat.id}/rotate`)
        .set(auth);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/personal access token/);

      const rotated = await request(server)
        .post(`/api/gitops/tokens/${deployToken.id}/rotate`)
        .set(auth);
      expect(rotated.status).toBe(200);
      expect(rotated.body.token).toMatchObject({
        kind: 'deploy-token',
        name: 'flux-read',
        lastRotatedAt: expect.any(String),
      });
      expect(rotated.body.token.id).not.toBe(deployToken.id);

      const created = await request(server)
        .post('/api/gitops/tokens')
        .set(auth)
        .send({ repository: world.demo.ociUrl, purpose: 'read' });
      expect(created.status).toBe(201);
      expect(created.body.token).toMatchObject({
        kind: 'deploy-token',
        scopes: ['read_registry'],
      });
      const report = await request(server)
        .get('/api/gitops/tokens/report')
        .set(auth);
      expect(report.body.items).toEqual([]);
    });

    it('answers 400 and 404 for a bad create or rotate, changing nothing', async () => {
      const badBody = await request(server)
        .post('/api/gitops/tokens')
        .set(auth)
        .send({ repository: world.demo.ociUrl, purpose: 'write' });
      expect(badBody.status).toBe(400);
      expect(badBody.body.error.message).toMatch(/purpose/);
      const badId = await request(server)
        .post('/api/gitops/tokens/..%2F..%2Fsecrets/rotate')
        .set(auth);
      expect(badId.status).toBe(400);
      const unknown = await request(server)
        .post(`/api/gitops/tokens/${'0'.repeat(20)}/rotate`)
        .set(auth);
      expect(unknown.status).toBe(404);
    });

    it('validates its query', async () => {
      const res = await request(server)
        .get('/api/gitops/tokens?entityRef=not-a-ref&x=1')
        .set(auth);
      expect(res.status).toBe(400);
    });
  });
});
