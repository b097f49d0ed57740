import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  CLUSTER_ADMIN_RULES,
  KubeApiServer,
  startKubeApiServer,
} from '@backstage-gitops/sandbox';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import { pushBackendFeatures } from './__testUtils__/pushBackend';
import {
  RecordingServer,
  startRecordingServer,
} from './__testUtils__/recordingServer';
import { FluxCache } from './cache';
import { PROJECTION_LIMITS } from './cache/projection';
import { GitOpsCluster } from './clusters/types';
import { FIELD_MANAGER, MANAGED_BY_LABEL } from './receivers/ReceiverManager';

jest.setTimeout(120_000);

const NS = 'flux-system';
const TOKEN = 'hostile-cluster-backstage-token';
const GITLAB_TOKEN = 'configured-gitlab-token-canary';
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
const SHA = '0123456789abcdef0123456789abcdef01234567';
const VALID_PATH = `/hook/${'c0ffee'.repeat(10)}abcd`;

/** What one cached object may cost at most, as JSON (see PROJECTION_LIMITS). */
const OBJECT_BOUND = 110 * 1024 + PROJECTION_LIMITS.inventoryChars;

function many(count: number, value: (i: number) => string) {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) out[`hostile.example/key-${i}`] = value(i);
  return out;
}

/**
 * A cluster that lies: its Flux objects carry crafted status fields aimed at a server
 * nothing configured (a Receiver webhook path `//host:port/x`, `/hook/../../api`,
 * `@host:port/`; an artifact URL and a source URL with userinfo pointing there), huge
 * annotations, labels and messages, and a long inventory. Over real HTTP the backend
 * watches it, manages its Receivers and relays a push: no request reaches the other
 * server, each object's cache entry stays bounded, and the backend keeps serving.
 */
describe('a hostile cluster', () => {
  let cluster: KubeApiServer;
  let elsewhere: RecordingServer;
  let gitlab: RecordingServer;
  let receiver: RecordingServer;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  let backend: Awaited<ReturnType<typeof startTestBackend>>;
  const scheduler = mockServices.scheduler();
  const events = mockServices.events();
  const auth = {
    Authorization: mockCredentials.user.header('user:default/guest'),
  };
  let repoUrl: string;

  const crafted = () => ({
    'delivery-scheme': `//${elsewhere.host}:${elsewhere.port}/x`,
    'delivery-traversal': '/hook/../../api',
    'delivery-userinfo': `@${elsewhere.host}:${elsewhere.port}/`,
    'delivery-huge': `/hook/${'a'.repeat(400)}`,
    'delivery-valid': VALID_PATH,
  });

  beforeAll(async () => {
    elsewhere = await startRecordingServer();
    gitlab = await startRecordingServer();
    receiver = await startRecordingServer();
    repoUrl = `${gitlab.url}/team/delivery.git`;
    cluster = await startKubeApiServer({
      clusterName: 'hostile',
      tls: true,
      resourceTypes: { sourceVersions: ['v1'] },
      tokens: { [TOKEN]: { user: 'backstage', rules: CLUSTER_ADMIN_RULES } },
    });
    const { store } = cluster;
    store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    const hugeMessage = `failed: ${'m'.repeat(1_000_000)}`;
    const hostileMetadata = () => ({
      labels: many(500, () => 'v'),
      annotations: {
        ...many(1_000, () => 'a'.repeat(1_000)),
        'hostile.example/huge': 'h'.repeat(1_000_000),
      },
    });
    const sources = [
      ...Object.keys(crafted()).map(name => ({ name, url: repoUrl })),
      // Userinfo naming the configured host, the connection going elsewhere.
      {
        name: 'tricky-userinfo',
        url: `http://${gitlab.host}:${gitlab.port}@${elsewhere.host}:${elsewhere.port}/team/delivery.git`,
      },
      // The configured host name on another port.
      {
        name: 'tricky-port',
        url: `http://${elsewhere.host}:${elsewhere.port}/team/delivery.git`,
      },
    ];
    for (const { name, url } of sources) {
      const source = store.create({
        ...GIT,
        metadata: { name, namespace: NS, ...hostileMetadata() },
        spec: { url, interval: '1h', ref: { branch: 'main' } },
      });
      store.mergePatch(
        GIT,
        NS,
        name,
        {
          status: {
            observedGeneration: 1,
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Succeeded',
                message: hugeMessage,
                lastTransitionTime: new Date().toISOString(),
              },
            ],
            artifact: {
              revision: `main@sha1:${SHA}`,
              url: `${elsewhere.url}/artifact.tar.gz`,
              path: 'gitrepository/flux-system/x/artifact.tar.gz',
              lastUpdateTime: new Date().toISOString(),
              digest: `sha256:${'0'.repeat(64)}`,
              metadata: many(1_000, () => 'm'.repeat(2_000)),
            },
          },
        },
        { subresource: 'status' },
      );
      const path = crafted()[name as keyof ReturnType<typeof crafted>];
      if (!path) continue;
      // The Receiver the backend would create, already there with a crafted path.
      store.create({
        ...RECEIVER,
        metadata: {
          name: `gitops-git-${name}`,
          namespace: NS,
          labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
          annotations: {
            'gitops.backstage.io/repository': `git:${gitlab.host}:${gitlab.port}/team/delivery`,
          },
          ownerReferences: [
            {
              apiVersion: GIT.apiVersion,
              kind: GIT.kind,
              name,
              uid: source.metadata.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          type: 'generic',
          resources: [{ apiVersion: GIT.apiVersion, kind: GIT.kind, name }],
          secretRef: { name: `gitops-git-${name}` },
        },
      });
      store.mergePatch(
        RECEIVER,
        NS,
        `gitops-git-${name}`,
        {
          status: {
            observedGeneration: 1,
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Succeeded',
                message: 'Receiver initialized',
                lastTransitionTime: new Date().toISOString(),
              },
            ],
            webhookPath: path,
          },
        },
        { subresource: 'status' },
      );
    }
    store.create({
      ...KUSTOMIZATION,
      metadata: { name: 'hostile-apps', namespace: NS, ...hostileMetadata() },
      spec: {
        interval: '1h',
        path: './',
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'delivery-valid' },
      },
    });
    store.mergePatch(
      KUSTOMIZATION,
      NS,
      'hostile-apps',
      {
        status: {
          observedGeneration: 1,
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'BuildFailed',
              message: hugeMessage,
              lastTransitionTime: new Date().toISOString(),
            },
          ],
          lastAttemptedRevision: `main@sha1:${SHA}`,
          inventory: {
            entries: Array.from({ length: 50_000 }, (_, i) => ({
              id: `apps_object-${i}-${'n'.repeat(60)}_apps_Deployment`,
              v: 'v1',
            })),
          },
        },
      },
      { subresource: 'status' },
    );

    backend = await startTestBackend({
      features: [
        ...pushBackendFeatures({ events, scheduler }),
        mockServices.rootConfig.factory({
          data: {
            app: { baseUrl: 'http://localhost:3000' },
            events: { modules: { gitlab: { webhookSecret: 'secret' } } },
            kubernetes: {
              clusterLocatorMethods: [
                {
                  type: 'config',
                  clusters: [
                    {
                      name: 'hostile',
                      url: cluster.url,
                      authProvider: 'serviceAccount',
                      serviceAccountToken: TOKEN,
                      caData: cluster.caData,
                    },
                  ],
                },
              ],
            },
            integrations: {
              gitlab: [
                {
                  host: `${gitlab.host}:${gitlab.port}`,
                  baseUrl: gitlab.url,
                  apiBaseUrl: `${gitlab.url}/api/v4`,
                  token: GITLAB_TOKEN,
                },
              ],
            },
            gitops: {
              clusters: [{ name: 'hostile', receiverUrl: receiver.url }],
              registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
            },
          },
        }),
        catalogServiceMock.factory({ entities: [] }),
        mockServices.permissions.mock({
          authorize: async requests =>
            requests.map(() => ({ result: AuthorizeResult.ALLOW })),
        }).factory,
      ],
    });
    server = backend.server;
  });

  afterAll(async () => {
    await backend?.stop();
    await cluster?.stop();
    await Promise.all([elsewhere, gitlab, receiver].map(s => s?.close()));
  });

  it('watches it, keeping each object within the projection bound', async () => {
    const cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: [
        {
          name: 'hostile',
          url: cluster.url,
          caData: cluster.caData,
          source: 'config',
          auth: { type: 'serviceAccount', token: TOKEN },
          settings: { fluxNamespace: NS, trustedServiceProxyPaths: [] },
        } as GitOpsCluster,
      ],
      backoff: { initialMs: 100, maxMs: 500 },
    });
    cache.start();
    try {
      await eventually('the cache in sync', () => !cache.isStale('hostile'));
      const objects = (
        ['GitRepository', 'Kustomization', 'Receiver'] as const
      ).flatMap(kind => cache.list('hostile', kind));
      expect(objects).toHaveLength(7 + 1 + 5);
      for (const object of objects) {
        // The cluster sent over 2 MB for each (annotations, messages, metadata).
        expect(JSON.stringify(object).length).toBeLessThan(OBJECT_BOUND);
        const { annotations = {}, labels = {} } = object.metadata;
        expect(Object.keys(annotations).length).toBeLessThanOrEqual(
          PROJECTION_LIMITS.mapEntries,
        );
        expect(Object.keys(labels).length).toBeLessThanOrEqual(
          PROJECTION_LIMITS.mapEntries,
        );
        // Artifact URLs are not kept (nothing reads them).
        expect(JSON.stringify(object.status)).not.toContain(elsewhere.url);
      }
      const apps = cache.get('hostile', 'Kustomization', NS, 'hostile-apps')!;
      const ids = (apps.status.inventoryIds as string).split('\n');
      expect(ids.length).toBeGreaterThan(1_000);
      expect(ids.length).toBeLessThan(50_000);
    } finally {
      await cache.stop();
    }
  });

  it('relays a push without reaching anything the crafted values point at', async () => {
    const receivers = async () =>
      (await request(server).get('/api/gitops/receivers').set(auth)).body
        .items as Array<{
        name: string;
        lastResult?: string;
        lastMessage?: string;
      }>;
    await eventually('the Receivers recorded', async () => {
      await scheduler.triggerTask('gitops-receivers');
      const items = await receivers();
      return (
        Object.keys(crafted()).every(name =>
          items?.some(r => r.name === `gitops-git-${name}`),
        ) && items
      );
    });

    await events.publish({
      topic: 'gitlab.push',
      eventPayload: {
        ref: 'refs/heads/main',
        after: SHA,
        checkout_sha: SHA,
        project: { git_http_url: repoUrl },
      },
      metadata: { 'x-gitlab-event-uuid': randomUUID() },
    });

    const outcomes = await eventually('every receiver triggered', async () => {
      const items = await receivers();
      const results = Object.fromEntries(
        items
          .filter(r => r.name.startsWith('gitops-git-delivery-'))
          .map(r => [r.name.replace('gitops-git-', ''), r.lastResult]),
      );
      return Object.values(results).every(Boolean) &&
        Object.keys(results).length === 5
        ? results
        : undefined;
    });
    // The path Flux could have written is called, on the configured receiver only;
    // the crafted ones are ignored (the source is annotated instead).
    expect(outcomes).toEqual({
      'delivery-scheme': 'fallback',
      'delivery-traversal': 'fallback',
      'delivery-userinfo': 'fallback',
      'delivery-huge': 'fallback',
      'delivery-valid': 'succeeded',
    });
    expect(receiver.requests.map(r => [r.method, r.url])).toEqual([
      ['POST', VALID_PATH],
    ]);
    const annotated = cluster.store.get(GIT, NS, 'delivery-scheme')!;
    expect(
      annotated.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    ).toBeDefined();

    // Token inventory and commit statuses ask the configured GitLab only.
    await scheduler.triggerTask('gitops-tokens-inventory');
    await new Promise(resolve => setTimeout(resolve, 1_000));
    expect(elsewhere.requests).toEqual([]);
    for (const r of gitlab.requests) {
      expect(r.headers.host).toBe(`${gitlab.host}:${gitlab.port}`);
    }
  });

  it('keeps serving', async () => {
    expect((await request(server).get('/api/gitops/health')).status).toBe(200);
    const clusters = await request(server)
      .get('/api/gitops/clusters')
      .set(auth);
    expect(clusters.status).toBe(200);
    expect(JSON.stringify(clusters.body)).toContain('hostile');
    expect(elsewhere.requests).toEqual([]);
  });
});
