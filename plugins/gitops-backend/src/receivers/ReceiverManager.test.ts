import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { startWorld, SandboxWorld } from '@backstage-gitops/sandbox';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { createHash } from 'crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FluxCache } from '../cache/FluxCache';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { GitOpsCluster } from '../clusters/types';
import { DatabaseReceiverStore } from '../database/DatabaseReceiverStore';
import { FluxActions } from '../actions/FluxActions';
import { gitHostNames, ReceiverManager, receiverName } from './ReceiverManager';
import { ReceiverTrigger } from './ReceiverTrigger';
import { eventually } from '../__testUtils__/eventually';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const CLUSTERS = ['dev', 'prod'];
const NS = 'flux-system';
const GIT = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const RECEIVER = {
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  kind: 'Receiver',
};
const SECRET = { apiVersion: 'v1', kind: 'Secret' };
const PROXY_PATH =
  '/api/v1/namespaces/flux-system/services/http:webhook-receiver:80/proxy';

describe('ReceiverManager on the demo world', () => {
  let dataDir: string;
  let world: SandboxWorld;
  let cache: FluxCache;
  let store: DatabaseReceiverStore;
  let clusters: Map<string, GitOpsCluster>;

  const manager = (enabled = true, logger = mockServices.logger.mock()) =>
    new ReceiverManager({
      cache,
      objectApi: name =>
        KubernetesObjectApi.makeApiClient(kubeConfigFor(clusters.get(name)!)),
      store,
      gitHosts: gitHostNames(
        new ConfigReader({
          integrations: {
            gitlab: [
              {
                host: new URL(world.gitlab.url).host,
                apiBaseUrl: `${world.gitlab.url}/api/v4`,
              },
            ],
          },
        }),
      ),
      settings: { enabled, includeConsumers: false },
      logger,
    });
  const webhookPathOf = (receiver: ManagedReceiver) =>
    cache.get(receiver.cluster, 'Receiver', receiver.namespace, receiver.name)
      ?.status.webhookPath as string | undefined;
  const stored = (cluster: string, ref: typeof GIT, name: string) =>
    world.cluster(cluster).api.store.get(ref, NS, name);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-receivers-'));
    world = await startWorld({ dataDir, clusters: CLUSTERS });
    clusters = new Map(
      CLUSTERS.map(name => [
        name,
        {
          name,
          url: world.cluster(name).api.url,
          caData: world.cluster(name).caData,
          source: 'config',
          auth: {
            type: 'serviceAccount',
            token: world.cluster(name).tokens.backstage,
          },
          settings: { fluxNamespace: NS, trustedServiceProxyPaths: [] },
        },
      ]),
    );
    cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: [...clusters.values()],
      backoff: { initialMs: 100, maxMs: 500 },
    });
    cache.start();
    const knex = await databases.init('SQLITE_3');
    store = await DatabaseReceiverStore.create({
      database: mockServices.database.mock({ getClient: async () => knex }),
    });
    await eventually('both caches in sync', () =>
      CLUSTERS.every(name => !cache.isStale(name)),
    );
  });

  afterAll(async () => {
    await cache?.stop();
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('names receivers within 63 characters, keeping cut names apart', () => {
    expect(receiverName('GitRepository', 'team-delivery')).toBe(
      'gitops-git-team-delivery',
    );
    const long = receiverName('OCIRepository', 'x'.repeat(80));
    expect(long).toHaveLength(63);
    expect(long).not.toBe(receiverName('OCIRepository', 'x'.repeat(81)));
  });

  it('gives every source on the Git host a generic Receiver owned by it, whose webhook reconciles it', async () => {
    await manager().run();

    for (const cluster of CLUSTERS) {
      for (const [source, name] of [
        ['team-delivery', 'gitops-git-team-delivery'],
        ['storefront', 'gitops-oci-storefront'],
      ]) {
        const receiver = stored(cluster, RECEIVER, name)!;
        expect(receiver.spec).toMatchObject({
          type: 'generic',
          secretRef: { name },
          resources: [expect.objectContaining({ name: source })],
        });
        expect(receiver.metadata.ownerReferences).toEqual([
          expect.objectContaining({ name: source, controller: true }),
        ]);
        const secret = stored(cluster, SECRET, name)!;
        const token = Buffer.from(
          (secret as unknown as { data: { token: string } }).data.token,
          'base64',
        ).toString();
        expect(token).toMatch(/^[0-9a-f]{64}$/);
        // Flux's webhook path: sha256(token + name + namespace).
        const path = `/hook/${createHash('sha256')
          .update(`${token}${name}${NS}`)
          .digest('hex')}`;
        const receivers = cache;
        await eventually(
          `${cluster} ${name} webhook path`,
          () =>
            receivers.get(cluster, 'Receiver', NS, name)?.status.webhookPath ===
            path,
        );
      }
    }

    // A second round records what Flux reported, and writes no new token.
    const tokenBefore = JSON.stringify(
      stored('dev', SECRET, 'gitops-git-team-delivery'),
    );
    await manager().run();
    expect(
      JSON.stringify(stored('dev', SECRET, 'gitops-git-team-delivery')),
    ).toBe(tokenBefore);
    const records = await store.list({ cluster: 'dev' });
    expect(records.map(r => [r.name, r.source.kind, r.repository])).toEqual([
      [
        'gitops-git-team-delivery',
        'GitRepository',
        `git:${new URL(world.gitlab.url).host}/team/delivery`,
      ],
      [
        'gitops-oci-storefront',
        'OCIRepository',
        expect.stringMatching(/^oci:/),
      ],
    ]);
    // Neither the token nor the webhook path derived from it is stored.
    expect(JSON.stringify(records)).not.toMatch(/token|hook/);

    // The recorded path is the one the cluster's receiver serves.
    const git = records[0];
    const response = await fetch(
      `${world.cluster('dev').receiver.url}${webhookPathOf(git)}`,
      { method: 'POST' },
    );
    expect(response.status).toBe(200);
    expect(
      stored('dev', GIT, 'team-delivery')!.metadata.annotations?.[
        'reconcile.fluxcd.io/requestedAt'
      ],
    ).toBeDefined();
  });

  describe('triggering', () => {
    const requestedAt = () =>
      stored('dev', GIT, 'team-delivery')!.metadata.annotations?.[
        'reconcile.fluxcd.io/requestedAt'
      ];
    const trigger = (receiverUrl: string) => {
      const cluster = clusters.get('dev')!;
      return new ReceiverTrigger({
        webhookPathOf,
        clusterOf: () => ({
          ...cluster,
          settings: {
            ...cluster.settings,
            receiverUrl,
            trustedServiceProxyPaths: [PROXY_PATH],
          },
        }),
        actionsFor: c =>
          new FluxActions({
            kubeConfig: kubeConfigFor(c),
            versionOf: () => 'v1',
          }),
        store,
        logger: mockServices.logger.mock(),
        retryDelayMs: 10,
      });
    };
    const gitReceiver = async () =>
      (await store.list({ cluster: 'dev' })).find(
        r => r.name === 'gitops-git-team-delivery',
      )!;

    it('calls the receiver directly and through the service proxy', async () => {
      for (const url of [world.cluster('dev').receiver.url, PROXY_PATH]) {
        const before = requestedAt();
        expect(await trigger(url).trigger(await gitReceiver())).toEqual({
          result: 'succeeded',
        });
        await eventually(
          'the receiver annotated the source',
          () => requestedAt() !== before,
        );
      }
      expect(await gitReceiver()).toMatchObject({ lastResult: 'succeeded' });
    });

    it('retries a 503 and then falls back to annotating requestedAt', async () => {
      world.cluster('dev').notification.faults.failNext(3, 503);
      const before = requestedAt();
      const outcome = await trigger(world.cluster('dev').receiver.url).trigger(
        await gitReceiver(),
      );
      expect(outcome).toEqual({
        result: 'fallback',
        message: 'the receiver answered 503; requestedAt annotated',
      });
      expect(requestedAt()).not.toBe(before);
      expect(await gitReceiver()).toMatchObject({
        lastResult: 'fallback',
        lastMessage: outcome.message,
      });
    });

    it('falls back when the receiver cannot be reached', async () => {
      const outcome = await trigger('http://127.0.0.1:9').trigger(
        await gitReceiver(),
      );
      expect(outcome.result).toBe('fallback');
      expect(outcome.message).toMatch(/could not be reached/);
    });
  });

  it('leaves a namespace the backend may not write alone, saying why once, and goes on', async () => {
    // team-a has a source but no RoleBinding for the backend (deploy/kubernetes/rbac.yaml).
    const prod = world.cluster('prod').api.store;
    prod.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team-a' },
    });
    prod.create({
      ...GIT,
      metadata: { name: 'apps', namespace: 'team-a' },
      spec: {
        interval: '1h',
        url: world.demo.project.httpUrl,
        ref: { branch: 'main' },
      },
    });
    await eventually('the cache to see team-a/apps', () =>
      cache.get('prod', 'GitRepository', 'team-a', 'apps'),
    );
    const logger = mockServices.logger.mock();
    const restricted = manager(true, logger);
    await restricted.run();
    await restricted.run();

    expect(prod.get(RECEIVER, 'team-a', 'gitops-git-apps')).toBeUndefined();
    expect(prod.get(SECRET, 'team-a', 'gitops-git-apps')).toBeUndefined();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(
      /^Could not apply Receiver team-a\/gitops-git-apps on prod: forbidden: .* namespace team-a; bind the ClusterRole backstage-gitops-flux-namespace there/,
    );
    // The Flux namespace's sources keep their Receivers.
    expect(
      (await store.list({ cluster: 'prod' })).map(
        r => `${r.namespace}/${r.name}`,
      ),
    ).toContain(`${NS}/gitops-git-team-delivery`);

    prod.delete(GIT, 'team-a', 'apps');
    await eventually(
      'the cache to drop team-a/apps',
      () => !cache.get('prod', 'GitRepository', 'team-a', 'apps'),
    );
  });

  it('removes the Receiver of a source that opts out, and all of them when switched off', async () => {
    world.cluster('dev').api.store.mergePatch(GIT, NS, 'team-delivery', {
      metadata: { annotations: { 'gitops.backstage.io/receiver': 'disabled' } },
    });
    await eventually(
      'the opt-out in the cache',
      () =>
        cache.get('dev', 'GitRepository', NS, 'team-delivery')?.metadata
          .annotations?.['gitops.backstage.io/receiver'],
    );
    await manager().run();
    expect(stored('dev', RECEIVER, 'gitops-git-team-delivery')).toBeUndefined();
    expect(stored('dev', SECRET, 'gitops-git-team-delivery')).toBeUndefined();
    expect(stored('prod', RECEIVER, 'gitops-git-team-delivery')).toBeDefined();
    expect((await store.list({ cluster: 'dev' })).map(r => r.name)).toEqual([
      'gitops-oci-storefront',
    ]);

    await eventually(
      'the removal in the cache',
      () => !cache.get('dev', 'Receiver', NS, 'gitops-git-team-delivery'),
    );
    await manager(false).run();
    for (const cluster of CLUSTERS) {
      expect(world.cluster(cluster).api.store.list(RECEIVER).items).toEqual([]);
    }
    expect(await store.list()).toEqual([]);
  });
});
