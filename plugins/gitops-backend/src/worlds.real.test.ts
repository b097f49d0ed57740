import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  realBinaries,
  realWorldSkipReason,
  RunningGitLab,
  startGitLab,
  startRealCluster,
  startSandboxCluster,
} from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import { pushBackendFeatures } from './__testUtils__/pushBackend';

jest.setTimeout(600_000);

const hasGo = realWorldSkipReason() === undefined;

const ENTITY = '/api/gitops/entities/component/default/podinfo';
const WEBHOOK_SECRET = 'the-events-module-secret';
const PODINFO_TARGET = {
  cluster: 'dev',
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'podinfo',
};

const API_VERSIONS: Record<string, string> = {
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  Receiver: 'notification.toolkit.fluxcd.io/v1',
};

/** One cluster of a world, as the scenarios see it. */
interface ScenarioCluster {
  url: string;
  token: string;
  caData?: string;
  receiverUrl: string;
  /** Creates these objects, as `kubectl apply` would. */
  create(objects: object[]): Promise<void>;
  /** A Flux object in flux-system, as the API server answers it; undefined when absent. */
  read(kind: string, name: string): Promise<any | undefined>;
  stop(): Promise<void>;
}

/** The sandbox's imitation, and the real thing built from Go modules. */
const WORLDS: Array<[string, (dir: string) => Promise<ScenarioCluster>]> = [
  [
    'the sandbox',
    async dir => {
      const cluster = await startSandboxCluster({
        name: 'dev',
        dataDir: dir,
        tls: true,
      });
      return {
        url: cluster.api.url,
        token: cluster.tokens.backstage,
        caData: cluster.caData,
        receiverUrl: cluster.receiver.url,
        async create(objects) {
          for (const object of objects) {
            cluster.api.store.create(object as any);
          }
        },
        async read(kind, name) {
          return cluster.api.store.get(
            { apiVersion: API_VERSIONS[kind], kind },
            'flux-system',
            name,
          );
        },
        stop: () => cluster.stop(),
      };
    },
  ],
];
if (hasGo) {
  WORLDS.push([
    'real Kubernetes and Flux',
    async dir => {
      const cluster = await startRealCluster({
        name: 'dev',
        dir,
        binaries: await realBinaries(),
      });
      return {
        url: cluster.url,
        token: cluster.backstageToken,
        caData: cluster.caData,
        receiverUrl: cluster.receiverUrl,
        async create(objects) {
          await cluster.kubectl(
            ['apply', '-f', '-'],
            JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
          );
        },
        async read(kind, name) {
          const json = await cluster
            .kubectl([
              '-n',
              'flux-system',
              'get',
              `${kind.toLowerCase()}/${name}`,
              '-o',
              'json',
            ])
            .catch(() => undefined);
          return json ? JSON.parse(json) : undefined;
        },
        stop: () => cluster.stop(),
      };
    },
  ]);
}

/**
 * One scenario suite, run against the sandbox and against a real kube-apiserver with the
 * real Flux controllers (built from their Go modules), with the same assertions on each:
 * where the imitation departs from the real thing, the sandbox run fails. The sandbox's
 * GitLab is the Git host of both.
 */
describe.each(WORLDS)(
  'the GitOps backend against %s',
  (_world, startCluster) => {
    let dir: string;
    let gitlab: RunningGitLab;
    let cluster: ScenarioCluster;
    let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
    let head: string;
    const scheduler = mockServices.scheduler();
    const events = mockServices.events();
    const auth = {
      Authorization: mockCredentials.user.header('user:default/guest'),
    };
    /** A field of a Flux object, by its path (`status.lastAppliedRevision`), as text. */
    const field = async (kind: string, name: string, path: string) => {
      let value = await cluster.read(kind, name);
      for (const key of path.split('.')) value = value?.[key];
      return value === undefined ? '' : String(value);
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gitops-real-'));
      gitlab = await startGitLab({ dataDir: join(dir, 'gitlab') });
      gitlab.api.createGroup({
        path: 'team',
        owner: 'root',
        visibility: 'public',
      });
      const project = await gitlab.api.createProject({
        namespace: 'team',
        path: 'delivery',
        visibility: 'public',
        files: {
          'apps/podinfo/dev/kustomization.yaml':
            'resources:\n  - deployment.yaml\n',
          'apps/podinfo/dev/deployment.yaml': [
            'apiVersion: apps/v1',
            'kind: Deployment',
            'metadata: { name: podinfo, namespace: default }',
            'spec:',
            '  replicas: 1',
            '  selector: { matchLabels: { app: podinfo } }',
            '  template:',
            '    metadata: { labels: { app: podinfo } }',
            '    spec: { containers: [{ name: podinfo, image: ghcr.io/stefanprodan/podinfo:6.7.0 }] }',
            '',
          ].join('\n'),
        },
      });
      const repository = `${gitlab.url}/${project.pathWithNamespace}.git`;
      head = (await gitlab.api
        .repository('team/delivery')
        .resolveCommit('refs/heads/main'))!;
      cluster = await startCluster(join(dir, 'dev'));
      await cluster.create([
        {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: 'team-delivery', namespace: 'flux-system' },
          spec: {
            interval: '10m',
            url: repository,
            ref: { branch: 'main' },
          },
        },
        {
          apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
          kind: 'Kustomization',
          metadata: {
            name: 'podinfo',
            namespace: 'flux-system',
            labels: { 'backstage.io/kubernetes-id': 'podinfo' },
          },
          spec: {
            interval: '10m',
            path: './apps/podinfo/dev',
            prune: true,
            wait: true,
            sourceRef: { kind: 'GitRepository', name: 'team-delivery' },
          },
        },
      ]);
      const gitlabHost = new URL(gitlab.url).host;
      const backend = await startTestBackend({
        features: [
          ...pushBackendFeatures({ events, scheduler }),
          mockServices.rootConfig.factory({
            data: {
              app: { baseUrl: 'http://localhost:3000' },
              events: {
                modules: { gitlab: { webhookSecret: WEBHOOK_SECRET } },
              },
              kubernetes: {
                clusterLocatorMethods: [
                  {
                    type: 'config',
                    clusters: [
                      {
                        name: 'dev',
                        url: cluster.url,
                        authProvider: 'serviceAccount',
                        serviceAccountToken: cluster.token,
                        caData: cluster.caData,
                      },
                    ],
                  },
                ],
              },
              integrations: {
                gitlab: [
                  {
                    host: gitlabHost,
                    baseUrl: gitlab.url,
                    apiBaseUrl: `${gitlab.url}/api/v4`,
                    token: gitlab.api.createPersonalAccessToken('root', {
                      scopes: ['api'],
                    }).token,
                  },
                ],
              },
              gitops: {
                clusters: [{ name: 'dev', receiverUrl: cluster.receiverUrl }],
                registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
              },
            },
          }),
          catalogServiceMock.factory({
            entities: [
              {
                apiVersion: 'backstage.io/v1alpha1',
                kind: 'Component',
                metadata: {
                  name: 'podinfo',
                  namespace: 'default',
                  annotations: {
                    'gitops.backstage.io/delivery-repositories': repository,
                    'gitops.backstage.io/delivery-path': 'apps/podinfo',
                    'backstage.io/kubernetes-id': 'podinfo',
                  },
                },
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
    });

    afterAll(async () => {
      await cluster?.stop();
      await gitlab?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const status = async () =>
      (await request(server).get(`${ENTITY}/status`).set(auth)).body;

    /** Waits for an operation to end and returns it. */
    const finished = (id: string) =>
      eventually(
        `operation ${id} to end`,
        async () => {
          const op = (
            await request(server).get(`/api/gitops/operations/${id}`).set(auth)
          ).body;
          if (!['succeeded', 'failed'].includes(op.status)) {
            throw new Error(JSON.stringify(op));
          }
          return op;
        },
        180_000,
      );

    it("shows Flux's status: the chain, Ready, the revision, the inventory and the events", async () => {
      const body = await eventually(
        'podinfo Ready on dev in the status',
        async () => {
          const current = await status();
          const consumer = current.clusters?.[0]?.chains?.[0]?.consumers?.[0];
          if (consumer?.ready?.status !== 'True') {
            throw new Error(JSON.stringify(current).slice(0, 600));
          }
          return current;
        },
        180_000,
      );
      const [dev] = body.clusters;
      expect(dev).toMatchObject({ name: 'dev', stale: false });
      const [{ source, consumers }] = dev.chains;
      expect(source).toMatchObject({
        kind: 'GitRepository',
        name: 'team-delivery',
        kstatus: 'Current',
        ready: { status: 'True' },
        artifactRevision: `main@sha1:${head}`,
      });
      expect(consumers).toHaveLength(1);
      expect(consumers[0]).toMatchObject({
        kind: 'Kustomization',
        name: 'podinfo',
        kstatus: 'Current',
        ready: { status: 'True', reason: 'ReconciliationSucceeded' },
        lastAppliedRevision: `main@sha1:${head}`,
      });
      expect(consumers[0].inventory).toEqual([
        'default_podinfo_apps_Deployment',
      ]);
      expect(consumers[0].events.length).toBeGreaterThan(0);
      expect(body.repositories[0].headCommit.sha).toBe(head);
    });

    it('syncs now with its source, as flux reconcile --with-source: the controllers handle the request', async () => {
      const before = await field(
        'Kustomization',
        'podinfo',
        'status.lastHandledReconcileAt',
      );
      const res = await request(server)
        .post(`${ENTITY}/reconcile`)
        .set(auth)
        .send({ target: PODINFO_TARGET, withSource: true });
      expect(res.status).toBe(202);
      const operation = await finished(res.body.items[0].id);
      expect(operation.status).toBe('succeeded');
      const after = await field(
        'Kustomization',
        'podinfo',
        'status.lastHandledReconcileAt',
      );
      expect(after).not.toBe(before);
      expect(
        await field(
          'GitRepository',
          'team-delivery',
          'status.lastHandledReconcileAt',
        ),
      ).not.toBe('');
    });

    it('suspends and resumes as flux suspend and resume do', async () => {
      const suspend = await request(server)
        .post(`${ENTITY}/suspend`)
        .set(auth)
        .send({ target: PODINFO_TARGET });
      expect(suspend.status).toBe(202);
      expect((await finished(suspend.body.items[0].id)).status).toBe(
        'succeeded',
      );
      expect(await field('Kustomization', 'podinfo', 'spec.suspend')).toBe(
        'true',
      );
      await eventually('the tab to show it suspended', async () => {
        const consumer = (await status()).clusters[0].chains[0].consumers[0];
        if (!consumer.suspended) throw new Error('not yet');
        return true;
      });
      const resume = await request(server)
        .post(`${ENTITY}/resume`)
        .set(auth)
        .send({ target: PODINFO_TARGET });
      expect(resume.status).toBe(202);
      expect((await finished(resume.body.items[0].id)).status).toBe(
        'succeeded',
      );
      expect(await field('Kustomization', 'podinfo', 'spec.suspend')).toBe(
        'false',
      );
    });

    it('reconciles a git push at once through a Receiver the backend made, and reports on the commit', async () => {
      // What the scheduler runs once the caches are in sync: the Receiver, then the hook.
      await eventually(
        'notification-controller to give the Receiver its webhook path',
        async () => {
          await scheduler.triggerTask('gitops-receivers');
          const path = await field(
            'Receiver',
            'gitops-git-team-delivery',
            'status.webhookPath',
          );
          if (!/^\/hook\/[0-9a-f]{64}$/.test(path)) throw new Error(path);
          return path;
        },
        60_000,
      );
      await new Promise(resolve => setTimeout(resolve, 1_000));
      await scheduler.triggerTask('gitops-webhooks');

      const sha = await gitlab.api.commitFiles('team/delivery', {
        files: { 'notes/push.md': `Pushed at ${new Date().toISOString()}\n` },
        message: 'A push that should reconcile at once',
      });
      await gitlab.api.waitForHooks();
      const delivery = gitlab.api
        .hookDeliveries()
        .find(d => d.event === 'Push Hook' && (d.payload as any).after === sha);
      expect(delivery?.statusCode).toBe(202);
      // The sources' interval is 10 minutes: only the Receiver makes this quick.
      await eventually(
        'podinfo applied at the pushed commit',
        async () => {
          const applied = await field(
            'Kustomization',
            'podinfo',
            'status.lastAppliedRevision',
          );
          if (applied !== `main@sha1:${sha}`) throw new Error(applied);
          return true;
        },
        120_000,
      );
      const statuses = await eventually(
        'a success status on the pushed commit',
        async () => {
          const res = await fetch(
            `${gitlab.url}/api/v4/projects/team%2Fdelivery/repository/commits/${sha}/statuses`,
            {
              headers: {
                'PRIVATE-TOKEN': gitlab.api.createPersonalAccessToken('root', {
                  scopes: ['api'],
                }).token,
              },
            },
          );
          const list = (await res.json()) as Array<{
            name: string;
            status: string;
          }>;
          const ours = list.find(
            s => s.name === 'gitops/dev/flux-system/podinfo',
          );
          if (ours?.status !== 'success') throw new Error(JSON.stringify(list));
          return list;
        },
        120_000,
      );
      expect(statuses.length).toBeGreaterThan(0);
    });
  },
);
