import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { gitopsPlugin } from './plugin';
import {
  sandboxBackendConfig,
  sandboxRegistration,
  sandboxRepositoryAccess,
} from './__testUtils__/sandboxConfig';

jest.setTimeout(120_000);

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 40_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

function component(
  name: string,
  owner: string,
  path: string,
  repo: string,
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        'gitops.backstage.io/delivery-repositories': repo,
        'gitops.backstage.io/delivery-path': path,
      },
    },
    spec: { type: 'service', owner, lifecycle: 'production' },
  };
}

const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};

/**
 * The acceptance of the backend core, through the whole plugin over real HTTP: the
 * sandbox's dev and prod clusters, the Kubernetes plugin's cluster config, catalog
 * entities with annotations, and a policy where only podinfo may be acted on.
 */
describe('the GitOps backend against the sandbox', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  const auth = {
    Authorization: mockCredentials.user.header('user:default/guest'),
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-backend-'));
    world = await startWorld({ dataDir, sourceInterval: '1m' });
    const repo = world.demo.project.httpUrl;
    const backend = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({
          data: {
            ...sandboxBackendConfig(world),
            gitops: {
              registration: sandboxRegistration,
              repositoryAccess: sandboxRepositoryAccess,
            },
          },
        }),
        catalogServiceMock.factory({
          entities: [
            component('podinfo', 'user:default/guest', 'apps/podinfo', repo),
            component(
              'payments',
              'group:default/team-payments',
              'apps/payments',
              repo,
            ),
          ],
        }),
        mockServices.permissions.mock({
          authorize: async requests =>
            requests.map(r => ({
              result:
                r.permission.name === 'gitops.entity.read' ||
                ('resourceRef' in r &&
                  r.resourceRef === 'component:default/podinfo')
                  ? AuthorizeResult.ALLOW
                  : AuthorizeResult.DENY,
            })),
        }).factory,
      ],
    });
    server = backend.server;
    // Registered through the API (the annotation sync is covered by its own tests).
    const registered = await request(server)
      .post('/api/gitops/delivery-repositories')
      .set(auth)
      .send({
        entityRef: 'component:default/podinfo',
        url: repo,
        path: 'apps/podinfo',
      });
    if (registered.status !== 201) {
      throw new Error(
        `Registering the delivery repository failed: ${registered.text}`,
      );
    }
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function podinfoStatus() {
    const res = await request(server)
      .get('/api/gitops/entities/component/default/podinfo/status')
      .set(auth);
    expect(res.status).toBe(200);
    return res.body;
  }

  // What the receiver manager does is proven in receivers/ReceiverManager.test.ts (the
  // test backend's scheduler runs tasks only at startup, before the caches are in sync).
  it('shows the token inventory only to those allowed gitops.tokens.read', async () => {
    const denied = await request(server).get('/api/gitops/tokens').set(auth);
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toMatch(/gitops\.tokens\.read/);
    const entity = await request(server)
      .get('/api/gitops/entities/component/default/podinfo/tokens')
      .set(auth);
    expect(entity.status).toBe(403);
    const rotate = await request(server)
      .post(`/api/gitops/tokens/${'a'.repeat(20)}/rotate`)
      .set(auth);
    expect(rotate.status).toBe(403);
    expect(rotate.body.error.message).toMatch(/gitops\.tokens\.manage/);
  });

  it('lists the managed receivers to cluster managers only', async () => {
    const denied = await request(server).get('/api/gitops/receivers').set(auth);
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toMatch(/gitops\.cluster\.manage/);
  });

  it('returns both clusters\u2019 chains with the real Git revision', async () => {
    const head = await world.gitlab.api
      .repository('team/delivery')
      .resolveCommit('refs/heads/main');
    const status = await eventually('both chains Ready', async () => {
      const body = await podinfoStatus();
      const ready = body.clusters.filter((c: any) =>
        c.chains.some((chain: any) =>
          chain.consumers.some(
            (k: any) =>
              k.name === 'podinfo' &&
              k.lastAppliedRevision === `main@sha1:${head}`,
          ),
        ),
      );
      return ready.length === 2 ? body : undefined;
    });
    expect(status.clusters.map((c: any) => c.name).sort()).toEqual([
      'dev',
      'prod',
    ]);
    for (const cluster of status.clusters) {
      expect(cluster.chains[0].source).toMatchObject({
        kind: 'GitRepository',
        artifactRevision: `main@sha1:${head}`,
      });
      expect(cluster.chains[0].consumers.map((k: any) => k.name)).toEqual([
        'podinfo',
      ]);
    }
  });

  it('reconciles the owned entity until Ready and moves lastHandledReconcileAt', async () => {
    const store = world.cluster('dev').api.store;
    const before = store.get(KUSTOMIZATION, 'flux-system', 'podinfo')!;
    const res = await request(server)
      .post('/api/gitops/entities/component/default/podinfo/reconcile')
      .set(auth)
      .send({
        target: {
          cluster: 'dev',
          kind: 'Kustomization',
          namespace: 'flux-system',
          name: 'podinfo',
        },
      });
    expect(res.status).toBe(202);
    const id = res.body.items[0].id;
    const operation = await eventually('the operation to finish', async () => {
      const op = await request(server)
        .get(`/api/gitops/operations/${id}`)
        .set(auth);
      return ['succeeded', 'failed'].includes(op.body.status)
        ? op.body
        : undefined;
    });
    expect(operation.status).toBe('succeeded');
    expect(operation.steps.map((s: any) => s.type)).toEqual([
      'requested',
      'applied',
      'ready',
    ]);
    const after = store.get(KUSTOMIZATION, 'flux-system', 'podinfo')!;
    expect((after.status as any).lastHandledReconcileAt).not.toEqual(
      (before.status as any)?.lastHandledReconcileAt,
    );

    const audit = await request(server)
      .get('/api/gitops/entities/component/default/podinfo/audit')
      .set(auth);
    expect(audit.body.items[0]).toMatchObject({
      actor: 'user:default/guest',
      cluster: 'dev',
      action: 'reconcile',
      outcome: 'succeeded',
    });
  });

  it('refuses a suspended object with 409 and patches nothing', async () => {
    const store = world.cluster('prod').api.store;
    store.mergePatch(KUSTOMIZATION, 'flux-system', 'podinfo', {
      spec: { suspend: true },
    });
    await eventually('the cache to see the suspension', async () => {
      const body = await podinfoStatus();
      const prod = body.clusters.find((c: any) => c.name === 'prod');
      return prod.chains[0].consumers[0].suspended ? true : undefined;
    });
    const version = store.get(KUSTOMIZATION, 'flux-system', 'podinfo')!.metadata
      .resourceVersion;
    const res = await request(server)
      .post('/api/gitops/entities/component/default/podinfo/reconcile')
      .set(auth)
      .send({
        target: {
          cluster: 'prod',
          kind: 'Kustomization',
          namespace: 'flux-system',
          name: 'podinfo',
        },
      });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/resource is suspended/);
    expect(
      store.get(KUSTOMIZATION, 'flux-system', 'podinfo')!.metadata
        .resourceVersion,
    ).toBe(version);
    store.mergePatch(KUSTOMIZATION, 'flux-system', 'podinfo', {
      spec: { suspend: false },
    });
  });

  it('refuses the other team\u2019s entity with 403 and patches nothing', async () => {
    const store = world.cluster('dev').api.store;
    const version = store.get(KUSTOMIZATION, 'flux-system', 'payments')!
      .metadata.resourceVersion;
    const res = await request(server)
      .post('/api/gitops/entities/component/default/payments/reconcile')
      .set(auth)
      .send({});
    expect(res.status).toBe(403);
    expect(
      store.get(KUSTOMIZATION, 'flux-system', 'payments')!.metadata
        .resourceVersion,
    ).toBe(version);
  });

  it('serves prod stale with its error while it is down, and fresh again once it is back', async () => {
    const prod = world.cluster('prod');
    await prod.api.faults.setDown(true);
    const stale = await eventually('prod to be stale', async () => {
      const body = await podinfoStatus();
      const cluster = body.clusters.find((c: any) => c.name === 'prod');
      return cluster.stale ? body : undefined;
    });
    const prodStatus = stale.clusters.find((c: any) => c.name === 'prod');
    expect(prodStatus.error).toBeTruthy();
    expect(prodStatus.chains[0].consumers[0].name).toBe('podinfo');
    expect(stale.clusters.find((c: any) => c.name === 'dev').stale).toBe(false);

    await prod.api.faults.setDown(false);
    await eventually('prod to be fresh again', async () => {
      const body = await podinfoStatus();
      return body.clusters.find((c: any) => c.name === 'prod').stale
        ? undefined
        : true;
    });
  });
});
