import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { startWorld, SandboxWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FluxCache } from '../cache/FluxCache';
import { GitOpsCluster } from '../clusters/types';
import { DatabaseDeliveryRepositoryStore } from '../database/DatabaseDeliveryRepositoryStore';
import { ownedObjectKey } from '../database/ObjectOwnerStore';
import {
  EntityStatusService,
  EntityStatusServiceOptions,
} from './EntityStatusService';
import { ClusterStatus, EntityStatus } from './types';
import { eventually } from '../__testUtils__/eventually';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const CLUSTERS = ['dev', 'prod'];
const PODINFO = 'component:default/podinfo';
const STOREFRONT = 'component:default/storefront';
const GIT_REPOSITORY = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};

function component(name: string, kubernetesId?: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      namespace: 'default',
      annotations: kubernetesId
        ? { 'backstage.io/kubernetes-id': kubernetesId }
        : {},
    },
    spec: { type: 'service', owner: 'team', lifecycle: 'production' },
  };
}

const cluster = (status: EntityStatus, name: string): ClusterStatus =>
  status.clusters.find(c => c.name === name)!;

describe('EntityStatusService on the demo world', () => {
  let dataDir: string;
  let world: SandboxWorld;
  let cache: FluxCache;
  let store: DatabaseDeliveryRepositoryStore;
  let deliveries: EntityStatusServiceOptions['deliveries'];
  let config: ConfigReader;
  let service: EntityStatusService;
  let headSha: string;

  const mainHead = async () =>
    (await world.gitlab.api
      .repository('team/delivery')
      .resolveCommit('refs/heads/main'))!;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-status-'));
    world = await startWorld({
      dataDir,
      clusters: CLUSTERS,
      sourceInterval: '2s',
    });
    cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: CLUSTERS.map(
        (name): GitOpsCluster => ({
          name,
          url: world.cluster(name).api.url,
          caData: world.cluster(name).caData,
          source: 'config',
          auth: {
            type: 'serviceAccount',
            token: world.cluster(name).tokens.backstage,
          },
          settings: {
            fluxNamespace: 'flux-system',
            trustedServiceProxyPaths: [],
          },
        }),
      ),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    cache.start();

    const knex = await databases.init('SQLITE_3');
    store = await DatabaseDeliveryRepositoryStore.create({
      database: mockServices.database.mock({ getClient: async () => knex }),
    });
    await store.upsert({
      entityRef: PODINFO,
      url: world.demo.project.httpUrl,
      path: 'apps/podinfo',
      origin: 'api',
    });
    await store.upsert({
      entityRef: STOREFRONT,
      url: world.demo.ociUrl,
      origin: 'api',
    });
    const gitlabUrl = new URL(world.gitlab.url);
    config = new ConfigReader({
      integrations: {
        gitlab: [
          {
            host: gitlabUrl.host,
            baseUrl: world.gitlab.url,
            apiBaseUrl: `${world.gitlab.url}/api/v4`,
            token: world.demo.tokens.gitlabAdmin,
          },
        ],
      },
    });
    deliveries = {
      listForEntity: entity =>
        store.list({ entityRef: stringifyEntityRef(entity) }),
    };
    service = EntityStatusService.create({
      cache,
      deliveries,
      config,
      logger: mockServices.logger.mock(),
    });

    headSha = await mainHead();
    // Every Kustomization of both entities has applied, on both clusters.
    await eventually('the demo applied on both clusters', () =>
      CLUSTERS.every(name =>
        ['podinfo', 'storefront'].every(
          k =>
            cache.get(name, 'Kustomization', 'flux-system', k)?.status
              .lastAppliedRevision,
        ),
      ),
    );
  });

  afterAll(async () => {
    await cache?.stop();
    await world?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('chains the Git source to the Kustomizations under the path, on both clusters', async () => {
    const status = await service.getStatus(
      PODINFO,
      component('podinfo', 'podinfo'),
    );

    expect(status.entityRef).toBe(PODINFO);
    expect(status.clusters.map(c => c.name)).toEqual(CLUSTERS);
    for (const name of CLUSTERS) {
      const { chains, stale, kubernetesIdObjects } = cluster(status, name);
      expect(stale).toBe(false);
      // The podinfo Kustomization carries the kubernetes-id label: already in the chain.
      expect(kubernetesIdObjects).toEqual([]);
      expect(chains).toHaveLength(1);
      const [{ source, consumers }] = chains;
      expect(source).toMatchObject({
        kind: 'GitRepository',
        name: 'team-delivery',
        namespace: 'flux-system',
        kstatus: 'Current',
        ready: { status: 'True' },
        suspended: false,
        interval: '2s',
        artifactRevision: `main@sha1:${headSha}`,
        commitsBehind: 0,
      });
      expect(source.events.length).toBeGreaterThan(0);
      expect(consumers.map(c => c.name)).toEqual(['podinfo']);
      const [podinfo] = consumers;
      expect(podinfo).toMatchObject({
        kind: 'Kustomization',
        kstatus: 'Current',
        ready: { status: 'True', reason: 'ReconciliationSucceeded' },
        lastAppliedRevision: `main@sha1:${headSha}`,
        dependsOn: [{ name: 'infrastructure', namespace: 'flux-system' }],
      });
      expect(podinfo.inventory).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^[a-z-]+_podinfo_apps_Deployment$/),
        ]),
      );
      expect(podinfo.events.length).toBeGreaterThan(0);
      expect(podinfo.events.length).toBeLessThanOrEqual(10);
      expect(podinfo.events[0]).toMatchObject({
        type: expect.any(String),
        reason: expect.any(String),
        lastSeen: expect.any(String),
      });
    }
    expect(status.repositories).toEqual([
      {
        url: world.demo.project.httpUrl,
        kind: 'git',
        branch: 'main',
        headCommit: {
          sha: headSha,
          title: expect.any(String),
          createdAt: expect.any(String),
          webUrl: expect.stringContaining(headSha),
        },
      },
    ]);
    expect(JSON.stringify(status)).not.toContain(world.demo.tokens.gitlabAdmin);
  });

  it('lists the objects without asking the Git host when told not to', async () => {
    const fresh = EntityStatusService.create({
      cache,
      deliveries,
      config,
      logger: mockServices.logger.mock(),
    });
    const mark = world.gitlab.requestsServed();
    const status = await fresh.getStatus(
      PODINFO,
      component('podinfo', 'podinfo'),
      { gitHost: false },
    );
    expect(world.gitlab.requestsSince(mark)).toEqual([]);
    expect(cluster(status, 'dev').chains[0].consumers.map(c => c.name)).toEqual(
      ['podinfo'],
    );
    expect(status.repositories[0].headCommit).toBeUndefined();
  });

  it('leaves out, and counts, what the viewer may not read: a shared source stays only while it feeds what they may read', async () => {
    const asked: string[] = [];
    const status = await service.getStatus(
      PODINFO,
      component('podinfo', 'podinfo'),
      {
        viewer: {
          async unreadable(objects) {
            asked.push(
              ...objects.map(
                o =>
                  `${o.cluster}/${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
              ),
            );
            return new Set(
              [
                ['dev', 'GitRepository', 'team-delivery'],
                ['prod', 'GitRepository', 'team-delivery'],
                ['prod', 'Kustomization', 'podinfo'],
              ].map(([clusterName, kind, name]) =>
                ownedObjectKey({
                  cluster: clusterName,
                  kind,
                  namespace: 'flux-system',
                  name,
                }),
              ),
            );
          },
        },
      },
    );
    // Asked once, about every object of the entity on both clusters.
    expect(asked).toEqual(
      expect.arrayContaining([
        'dev/GitRepository/flux-system/team-delivery',
        'dev/Kustomization/flux-system/podinfo',
        'prod/Kustomization/flux-system/podinfo',
      ]),
    );
    // On dev the shared source stays: it feeds podinfo, which the viewer may read.
    const dev = cluster(status, 'dev');
    expect(dev.chains.map(c => c.source.name)).toEqual(['team-delivery']);
    expect(dev.chains[0].consumers.map(c => c.name)).toEqual(['podinfo']);
    expect(dev.hiddenObjects).toBeUndefined();
    // On prod nothing the viewer may read is left of the chain: it goes.
    const prod = cluster(status, 'prod');
    expect(prod.chains).toEqual([]);
    expect(prod.hiddenObjects).toBe(2);
  });

  it('chains the OCI source to its Kustomization with the origin revision', async () => {
    const status = await service.getStatus(
      STOREFRONT,
      component('storefront', 'storefront'),
    );

    for (const name of CLUSTERS) {
      const { chains, kubernetesIdObjects } = cluster(status, name);
      expect(kubernetesIdObjects).toEqual([]);
      expect(chains).toHaveLength(1);
      const [{ source, consumers }] = chains;
      expect(source).toMatchObject({
        kind: 'OCIRepository',
        name: 'storefront',
        artifactRevision: expect.stringMatching(/^latest@sha256:[0-9a-f]{64}$/),
        originRevision: `main@sha1:${headSha}`,
      });
      expect(source.commitsBehind).toBeUndefined();
      expect(consumers.map(c => c.name)).toEqual(['storefront']);
      expect(consumers[0]).toMatchObject({
        originRevision: `main@sha1:${headSha}`,
        lastAppliedRevision: source.artifactRevision,
      });
    }
    expect(status.repositories).toEqual([
      { url: world.demo.ociUrl, kind: 'oci' },
    ]);
  });

  it('finds objects by kubernetes-id alone, with their source chain', async () => {
    const status = await service.getStatus(
      'component:default/payments',
      component('payments', 'payments'),
    );
    expect(status.repositories).toEqual([]);
    for (const name of CLUSTERS) {
      const { chains } = cluster(status, name);
      expect(
        chains.map(c => [c.source.name, c.consumers.map(k => k.name)]),
      ).toEqual([['team-delivery', ['payments']]]);
    }
  });

  it('counts the commits a suspended source is behind, caching Git host answers', async () => {
    for (const name of CLUSTERS) {
      world
        .cluster(name)
        .api.store.mergePatch(GIT_REPOSITORY, 'flux-system', 'team-delivery', {
          spec: { suspend: true },
        });
    }
    await eventually('the suspension in the cache', () =>
      CLUSTERS.every(
        name =>
          cache.get(name, 'GitRepository', 'flux-system', 'team-delivery')?.spec
            .suspend,
      ),
    );
    const newSha = await world.gitlab.api.commitFiles('team/delivery', {
      files: { 'docs/status-test.md': 'not fetched yet\n' },
      message: 'A commit the suspended source has not fetched',
    });
    expect(newSha).not.toBe(headSha);

    // Within its TTL the service still answers the head it read before.
    const cached = await service.getStatus(PODINFO, component('podinfo'));
    expect(cached.repositories[0].headCommit?.sha).toBe(headSha);

    const fresh = EntityStatusService.create({
      cache,
      deliveries,
      config,
      logger: mockServices.logger.mock(),
      gitHostCacheTtlMs: 0,
    });
    const status = await fresh.getStatus(PODINFO, component('podinfo'));
    expect(status.repositories[0].headCommit).toMatchObject({
      sha: newSha,
      title: 'A commit the suspended source has not fetched',
    });
    for (const name of CLUSTERS) {
      expect(cluster(status, name).chains[0].source).toMatchObject({
        suspended: true,
        artifactRevision: `main@sha1:${headSha}`,
        commitsBehind: 1,
      });
    }
  });

  it('reads the head again when a source holds a commit the kept head does not explain', async () => {
    // Both sources are suspended behind the head (previous test); this service keeps
    // Git host answers for ten minutes.
    const keeping = EntityStatusService.create({
      cache,
      deliveries,
      config,
      logger: mockServices.logger.mock(),
      gitHostCacheTtlMs: 600_000,
    });
    const keptHead = (await keeping.getStatus(PODINFO, component('podinfo')))
      .repositories[0].headCommit!.sha;
    const pushed = await world.gitlab.api.commitFiles('team/delivery', {
      files: { 'docs/status-test-2.md': 'fetched by dev only\n' },
      message: 'A commit only dev fetches',
    });
    world
      .cluster('dev')
      .api.store.mergePatch(GIT_REPOSITORY, 'flux-system', 'team-delivery', {
        spec: { suspend: false },
      });
    await eventually('dev fetched the pushed commit', () =>
      (
        cache.get('dev', 'GitRepository', 'flux-system', 'team-delivery')
          ?.status?.artifact as { revision?: string } | undefined
      )?.revision?.endsWith(pushed),
    );

    const status = await keeping.getStatus(PODINFO, component('podinfo'));
    expect(status.repositories[0].headCommit?.sha).toBe(pushed);
    expect(status.repositories[0].headCommit?.sha).not.toBe(keptHead);
    expect(cluster(status, 'dev').chains[0].source.commitsBehind).toBe(0);
    expect(cluster(status, 'prod').chains[0].source.commitsBehind).toBe(2);
  });

  it('reports a Git host failure per repository without failing the status', async () => {
    const broken = EntityStatusService.create({
      cache,
      deliveries,
      config: new ConfigReader({
        integrations: {
          gitlab: [
            {
              host: new URL(world.gitlab.url).host,
              apiBaseUrl: `${world.gitlab.url}/api/v4`,
              token: 'not-a-valid-token',
            },
          ],
        },
      }),
      logger: mockServices.logger.mock(),
    });
    const status = await broken.getStatus(PODINFO, component('podinfo'));
    expect(status.repositories[0].error).toMatch(/401/);
    expect(status.repositories[0].error).not.toContain('not-a-valid-token');
    expect(status.repositories[0].headCommit).toBeUndefined();
    expect(cluster(status, 'dev').chains).toHaveLength(1);
    expect(
      cluster(status, 'dev').chains[0].source.commitsBehind,
    ).toBeUndefined();
  });

  it('keeps serving an unreachable cluster from the cache, marked stale', async () => {
    await world.cluster('prod').api.faults.setDown(true);
    try {
      await eventually('prod stale', () => cache.isStale('prod'));
      const status = await service.getStatus(PODINFO, component('podinfo'));
      const prod = cluster(status, 'prod');
      expect(prod).toMatchObject({
        stale: true,
        staleSince: expect.any(String),
        error: expect.any(String),
      });
      expect(prod.chains[0].consumers.map(c => c.name)).toEqual(['podinfo']);
      expect(cluster(status, 'dev').stale).toBe(false);
      expect(cluster(status, 'dev').error).toBeUndefined();
    } finally {
      await world.cluster('prod').api.faults.setDown(false);
    }
  });
});
