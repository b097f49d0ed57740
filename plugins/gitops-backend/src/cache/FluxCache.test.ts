import { mockServices } from '@backstage/backend-test-utils';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import {
  startFleet,
  startKubeApiServer,
  startWorld,
  SandboxWorld,
} from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitOpsCluster } from '../clusters/types';
import { LIST_PAGE_SIZE } from './ClusterCache';
import { FluxCache } from './FluxCache';

jest.setTimeout(60_000);

const GIT_V1 = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};

function clusterOf(name: string, url: string, token: string): GitOpsCluster {
  return {
    name,
    url,
    source: 'config',
    // The sandbox speaks plain HTTP, which client-node only allows with this set.
    skipTLSVerify: true,
    auth: { type: 'serviceAccount', token },
    settings: { fluxNamespace: 'flux-system', trustedServiceProxyPaths: [] },
  };
}

async function eventually(
  what: string,
  condition: () => boolean,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

const gitRepository = (name: string, url: string) => ({
  ...GIT_V1,
  metadata: { name, namespace: 'flux-system' },
  spec: { interval: '10m', url, ref: { branch: 'main' } },
});

describe('FluxCache on the demo world', () => {
  let dataDir: string;
  let world: SandboxWorld;
  let cache: FluxCache;
  let deliveryUrl: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-cache-'));
    world = await startWorld({
      dataDir,
      clusters: ['dev', 'prod'],
      sourceInterval: '2s',
    });
    deliveryUrl = parseRepositoryUrl(world.demo.project.httpUrl).normalized;
    cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: ['dev', 'prod'].map(name =>
        clusterOf(
          name,
          world.cluster(name).api.url,
          world.cluster(name).tokens.backstage,
        ),
      ),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    cache.start();
    await eventually('both clusters in sync', () =>
      ['dev', 'prod'].every(name => !cache.isStale(name)),
    );
  });

  afterAll(async () => {
    await cache?.stop();
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('discovers the served Flux versions and lists every kind', () => {
    const health = cache.health('dev');
    expect(health).toMatchObject({
      connected: true,
      stale: false,
      servedFluxVersions: {
        GitRepository: 'source.toolkit.fluxcd.io/v1',
        OCIRepository: 'source.toolkit.fluxcd.io/v1',
        Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
        HelmRelease: 'helm.toolkit.fluxcd.io/v2',
        Receiver: 'notification.toolkit.fluxcd.io/v1',
        Provider: 'notification.toolkit.fluxcd.io/v1beta3',
        Alert: 'notification.toolkit.fluxcd.io/v1beta3',
      },
    });
    expect(health.staleSince).toBeUndefined();
    expect(cache.versionOf('dev', 'source.toolkit.fluxcd.io')).toBe('v1');
    expect(
      cache
        .list('dev', 'Kustomization')
        .map(k => k.metadata.name)
        .sort(),
    ).toEqual(['infrastructure', 'payments', 'podinfo', 'storefront']);
    // The demo's GitRepository, OCIRepository, four Kustomizations and Receivers, if any.
    expect(health.cachedObjects).toBe(cache.list('dev').length);
    expect(health.cachedObjects).toBeGreaterThanOrEqual(6);
  });

  it('indexes sources by normalized URL and their consumers by sourceRef', () => {
    // The scp-like SSH form of the same repository normalizes the same way.
    const { host, path } = parseRepositoryUrl(world.demo.project.httpUrl);
    expect(
      parseRepositoryUrl(`git@${host.replace(/:\d+$/, '')}:${path}.git`)
        .normalized,
    ).toBe(deliveryUrl.replace(/:\d+\//, '/'));
    const sources = cache.sourcesByUrl(deliveryUrl);
    expect(
      sources.map(s => `${s.cluster}/${s.kind}/${s.metadata.name}`).sort(),
    ).toEqual([
      'dev/GitRepository/team-delivery',
      'prod/GitRepository/team-delivery',
    ]);
    const [source] = sources;
    // A trimmed projection: no managedFields, but what status needs.
    expect(source.metadata).not.toHaveProperty('managedFields');
    expect(source.metadata.uid).toBeTruthy();
    expect(source.spec.url).toBe(world.demo.project.httpUrl);

    const consumers = cache.consumersOfSource('dev', {
      kind: 'GitRepository',
      namespace: 'flux-system',
      name: 'team-delivery',
    });
    expect(consumers.map(c => c.metadata.name).sort()).toEqual([
      'infrastructure',
      'payments',
      'podinfo',
    ]);
    expect(
      cache
        .consumersOfSource('dev', {
          kind: 'OCIRepository',
          namespace: 'flux-system',
          name: 'storefront',
        })
        .map(c => c.metadata.name),
    ).toEqual(['storefront']);
  });

  it('keeps the latest events of each Flux object and follows updates', async () => {
    const ref = {
      kind: 'Kustomization' as const,
      namespace: 'flux-system',
      name: 'podinfo',
    };
    await eventually(
      'events about podinfo',
      () => cache.events('dev', ref).length > 0,
      30_000,
    );
    expect(cache.events('dev', ref)[0]).toMatchObject({
      involvedObject: ref,
      reportingController: 'kustomize-controller',
    });

    // The demo labels the apps' Kustomizations on both clusters.
    expect(
      cache
        .byKubernetesId('podinfo')
        .map(o => `${o.cluster}/${o.kind}/${o.metadata.name}`)
        .sort(),
    ).toEqual(['dev/Kustomization/podinfo', 'prod/Kustomization/podinfo']);

    const { store } = world.cluster('dev').api;
    const label = (id: string) => ({
      metadata: { labels: { 'backstage.io/kubernetes-id': id } },
    });
    store.mergePatch(
      KUSTOMIZATION,
      'flux-system',
      'infrastructure',
      label('platform'),
    );
    await eventually(
      'the label through the watch',
      () => cache.byKubernetesId('platform').length === 1,
    );
    store.mergePatch(
      KUSTOMIZATION,
      'flux-system',
      'infrastructure',
      label('base'),
    );
    await eventually(
      'the relabelling through the watch',
      () =>
        cache.byKubernetesId('base').length === 1 &&
        cache.byKubernetesId('platform').length === 0,
    );
  });

  it('sees new objects after dropped watches and after 410 Gone', async () => {
    const { api } = world.cluster('dev');
    api.faults.dropWatches();
    api.store.create(
      gitRepository(
        'after-drop',
        'https://git.example.com/team/after-drop.git',
      ),
    );
    await eventually(
      'the object created after the drop',
      () =>
        cache.sourcesByUrl('git:git.example.com/team/after-drop').length === 1,
    );

    api.faults.dropWatches();
    api.store.delete(GIT_V1, 'flux-system', 'after-drop');
    api.store.create(
      gitRepository('after-gone', 'ssh://git@git.example.com/team/after-gone'),
    );
    api.store.compactHistory();
    await eventually(
      'the relist after 410 Gone',
      () =>
        cache.sourcesByUrl('git:git.example.com/team/after-gone').length ===
          1 &&
        cache.get('dev', 'GitRepository', 'flux-system', 'after-drop') ===
          undefined,
    );
    expect(cache.isStale('dev')).toBe(false);
  });

  it('serves from memory while the API server is slow (5 s per call), and catches up', async () => {
    const { api } = world.cluster('dev');
    api.faults.setLatency(5_000);
    try {
      // Reads never wait for the cluster.
      const started = performance.now();
      expect(
        cache.get('dev', 'GitRepository', 'flux-system', 'team-delivery'),
      ).toBeDefined();
      expect(performance.now() - started).toBeLessThan(50);
      api.store.create(
        gitRepository('while-slow', 'https://git.example.com/team/slow.git'),
      );
      await eventually(
        'the change, however slow the calls',
        () =>
          cache.get('dev', 'GitRepository', 'flux-system', 'while-slow') !==
          undefined,
        30_000,
      );
      // A dropped watch has to be opened again, at 5 s a call: the data is kept.
      api.faults.dropWatches();
      api.store.delete(GIT_V1, 'flux-system', 'while-slow');
      expect(
        cache.get('dev', 'GitRepository', 'flux-system', 'team-delivery'),
      ).toBeDefined();
      await eventually(
        'the deletion after the slow re-watch',
        () => !cache.get('dev', 'GitRepository', 'flux-system', 'while-slow'),
        30_000,
      );
    } finally {
      api.faults.setLatency(0);
    }
    expect(cache.isStale('dev')).toBe(false);
  }, 60_000);

  it('marks an unreachable cluster stale, keeps its data, and recovers by itself', async () => {
    const prod = world.cluster('prod').api;
    await prod.faults.setDown(true);
    try {
      await eventually('prod stale', () => cache.isStale('prod'));
      const health = cache.health('prod');
      expect(health).toMatchObject({ connected: false, stale: true });
      expect(health.staleSince).toBeDefined();
      expect(health.lastSyncedAt).toBeDefined();
      expect(health.lastError?.message).toMatch(/watch failed: .+/);
      expect(health.lastError?.message).not.toContain(
        world.cluster('prod').tokens.backstage,
      );
      // Its data is still served, and dev is unaffected.
      expect(
        cache.get('prod', 'GitRepository', 'flux-system', 'team-delivery'),
      ).toBeDefined();
      expect(cache.isStale('dev')).toBe(false);

      // Changes made while it is unreachable show up once it is back.
      prod.store.create(
        gitRepository(
          'while-down',
          'https://git.example.com/team/while-down.git',
        ),
      );
    } finally {
      await prod.faults.setDown(false);
    }
    await eventually('prod fresh again', () => !cache.isStale('prod'), 10_000);
    expect(cache.health('prod')).toMatchObject({
      connected: true,
      stale: false,
    });
    expect(cache.health('prod').staleSince).toBeUndefined();
    await eventually(
      'the object created while down',
      () =>
        cache.get('prod', 'GitRepository', 'flux-system', 'while-down') !==
        undefined,
    );
  });
});

describe('FluxCache on a cluster serving source v1beta2 only', () => {
  it('watches the sources at v1beta2, and clusters come and go at runtime', async () => {
    const token = 'reader-token';
    const server = await startKubeApiServer({
      resourceTypes: { sourceVersions: ['v1beta2'] },
      tokens: {
        [token]: {
          user: 'reader',
          rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        },
      },
    });
    const cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    try {
      server.store.create({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'apps' },
      });
      server.store.create({
        apiVersion: 'source.toolkit.fluxcd.io/v1beta2',
        kind: 'GitRepository',
        metadata: { name: 'legacy', namespace: 'apps' },
        spec: {
          interval: '5m',
          url: 'https://GitLab.example.com/team/delivery.git',
        },
      });
      cache.start();
      const added = cache.addCluster(clusterOf('old', server.url, token));
      // Known at once: the registration route answers with its health right away.
      expect(cache.health('old').connected).toBe(false);
      await added;
      await eventually('old in sync', () => !cache.isStale('old'));
      expect(cache.health('old').servedFluxVersions.GitRepository).toBe(
        'source.toolkit.fluxcd.io/v1beta2',
      );
      expect(cache.versionOf('old', 'source.toolkit.fluxcd.io')).toBe(
        'v1beta2',
      );
      expect(
        cache.sourcesByUrl('git:gitlab.example.com/team/delivery'),
      ).toMatchObject([
        {
          cluster: 'old',
          kind: 'GitRepository',
          apiVersion: 'source.toolkit.fluxcd.io/v1beta2',
        },
      ]);

      await cache.removeCluster('old');
      expect(cache.clusterNames()).toEqual([]);
      expect(
        cache.sourcesByUrl('git:gitlab.example.com/team/delivery'),
      ).toEqual([]);
      expect(() => cache.health('old')).toThrow(/No cluster named "old"/);
    } finally {
      await cache.stop();
      await server.stop();
    }
  });
});

describe('FluxCache on a cluster with more objects than a list page', () => {
  it('reads every page of every kind', async () => {
    const fleet = await startFleet({ clusters: 1 });
    // GitRepositories and Kustomizations alternate: each kind needs more than two pages.
    const objects = 4 * LIST_PAGE_SIZE + 2;
    fleet.seed(objects);
    const [cluster] = fleet.clusters;
    const cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: [clusterOf('big', cluster.api.url, cluster.token)],
      backoff: { initialMs: 100, maxMs: 500 },
    });
    try {
      cache.start();
      await eventually('big in sync', () => !cache.isStale('big'));
      expect(cache.health('big').cachedObjects).toBe(objects);
      expect(cache.list('big', 'GitRepository')).toHaveLength(objects / 2);
      expect(cache.list('big', 'Kustomization')).toHaveLength(objects / 2);
    } finally {
      await cache.stop();
      await fleet.stop();
    }
  });
});
