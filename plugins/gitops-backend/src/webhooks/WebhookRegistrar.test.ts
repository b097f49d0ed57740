import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { DeliveryRepository } from '@backstage-gitops/plugin-gitops-common';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../__testUtils__/eventually';
import { DatabaseWebhookStore } from '../database/DatabaseWebhookStore';
import { GitHosts } from '../gitHosts';
import {
  eventsBaseUrl,
  readWebhookSettings,
  WebhookRegistrar,
  WebhookSettings,
} from './WebhookRegistrar';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

/**
 * The registrar against the sandbox GitLab: hooks are read back through the GitLab API,
 * and a commit proves the hook posts to the events ingress with the module's secret.
 */
describe('WebhookRegistrar on the sandbox GitLab', () => {
  let dataDir: string;
  let world: SandboxWorld;
  let ingress: http.Server;
  const received: Array<{ path?: string; token?: string; event?: string }> = [];
  let ingressUrl: string;
  let store: DatabaseWebhookStore;
  let deliveries: DeliveryRepository[];
  const logger = mockServices.logger.mock();

  const registrar = (
    settings: Partial<WebhookSettings> = {},
    verifyEveryMs?: number,
  ) =>
    new WebhookRegistrar({
      deliveries: { list: async () => deliveries },
      store,
      hosts: GitHosts.fromConfig(
        new ConfigReader({
          integrations: {
            gitlab: [
              {
                host: new URL(world.gitlab.url).host,
                apiBaseUrl: `${world.gitlab.url}/api/v4`,
                token: world.demo.tokens.gitlabAdmin,
              },
            ],
          },
        }),
      ),
      discovery: {
        getExternalBaseUrl: async plugin => `${ingressUrl}/api/${plugin}`,
      },
      settings: {
        register: true,
        secrets: { gitlab: 'first-secret' },
        ...settings,
      },
      logger,
      verifyEveryMs,
    });

  async function hooks(): Promise<
    Array<{ id: number; url: string; push_events: boolean }>
  > {
    const project = encodeURIComponent(world.demo.project.pathWithNamespace);
    const res = await fetch(
      `${world.gitlab.url}/api/v4/projects/${project}/hooks`,
      { headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin } },
    );
    expect(res.status).toBe(200);
    return res.json();
  }

  async function pushAndReadToken(): Promise<string | undefined> {
    received.length = 0;
    await world.gitlab.api.commitFiles(world.demo.project.pathWithNamespace, {
      files: { [`notes/${Date.now()}.txt`]: 'hello' },
      message: 'A note',
    });
    await world.gitlab.api.waitForHooks();
    const delivery = await eventually('the push hook', () => received[0]);
    expect(delivery).toMatchObject({
      path: '/api/events/http/gitlab',
      event: 'Push Hook',
    });
    return delivery.token;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-webhooks-'));
    world = await startWorld({ dataDir, clusters: [] });
    ingress = http.createServer((req, res) => {
      received.push({
        path: req.url,
        token: req.headers['x-gitlab-token'] as string | undefined,
        event: req.headers['x-gitlab-event'] as string | undefined,
      });
      req.resume();
      res.writeHead(202).end();
    });
    await new Promise<void>(resolve => ingress.listen(0, '127.0.0.1', resolve));
    ingressUrl = `http://127.0.0.1:${(ingress.address() as AddressInfo).port}`;
    const knex = await databases.init('SQLITE_3');
    store = await DatabaseWebhookStore.create({
      database: mockServices.database.mock({ getClient: async () => knex }),
    });
    deliveries = [
      {
        id: '1',
        entityRef: 'component:default/podinfo',
        url: world.demo.project.httpUrl,
        kind: 'git',
        origin: 'annotation',
        createdAt: '2026-11-25T00:00:00Z',
        updatedAt: '2026-11-25T00:00:00Z',
      },
      {
        // A second entity in the same repository shares its hook.
        id: '2',
        entityRef: 'component:default/payments',
        url: `${world.demo.project.webUrl}.git`,
        kind: 'git',
        origin: 'annotation',
        createdAt: '2026-11-25T00:00:00Z',
        updatedAt: '2026-11-25T00:00:00Z',
      },
    ];
  });

  afterAll(async () => {
    ingress?.close();
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates one push hook per repository, carrying the events module secret', async () => {
    await registrar().run();
    const created = await hooks();
    expect(created).toEqual([
      expect.objectContaining({
        url: `${ingressUrl}/api/events/http/gitlab`,
        push_events: true,
      }),
    ]);
    expect(await store.list()).toEqual([
      expect.objectContaining({
        repository: expect.stringMatching(/^git:.*\/team\/delivery$/),
        hostKind: 'gitlab',
        hookId: String(created[0].id),
      }),
    ]);
    // The secret is in no column, only its keyed digest.
    expect(JSON.stringify(await store.list())).not.toContain('first-secret');
    expect(await pushAndReadToken()).toBe('first-secret');

    // A second round changes nothing.
    await registrar().run();
    expect(await hooks()).toEqual(created);
  });

  it('gives the hook a changed secret, and recreates a hook deleted by hand', async () => {
    await registrar({ secrets: { gitlab: 'second-secret' } }).run();
    expect(await pushAndReadToken()).toBe('second-secret');

    const [hook] = await hooks();
    const project = encodeURIComponent(world.demo.project.pathWithNamespace);
    await fetch(
      `${world.gitlab.url}/api/v4/projects/${project}/hooks/${hook.id}`,
      {
        method: 'DELETE',
        headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin },
      },
    );
    // Recorded hooks are looked up again once `verifyEveryMs` has passed.
    await registrar({ secrets: { gitlab: 'second-secret' } }, 0).run();
    expect(await hooks()).toHaveLength(1);
    expect(await pushAndReadToken()).toBe('second-secret');
  });

  it('registers nothing for a host whose events module has no secret, and says so', async () => {
    const quiet = registrar({ secrets: {} });
    await quiet.run();
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('set events.modules.gitlab.webhookSecret'),
    );
    // What was registered before is removed: the ingress would refuse its pushes.
    expect(await hooks()).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('removes the hook when the repository is no longer registered or registration is off', async () => {
    await registrar().run();
    expect(await hooks()).toHaveLength(1);
    await registrar({ register: false }).run();
    expect(await hooks()).toEqual([]);

    await registrar().run();
    expect(await hooks()).toHaveLength(1);
    const kept = deliveries;
    deliveries = [];
    await registrar().run();
    deliveries = kept;
    expect(await hooks()).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('reads its settings, refusing a base URL that is not http(s)', async () => {
    const settings = readWebhookSettings(
      new ConfigReader({
        events: { modules: { github: { webhookSecret: 'gh' } } },
      }),
    );
    expect(settings).toEqual({ register: true, secrets: { github: 'gh' } });
    const discovery = {
      getExternalBaseUrl: async (plugin: string) =>
        `http://localhost:7007/api/${plugin}`,
    };
    expect(await eventsBaseUrl(settings, discovery)).toBe(
      'http://localhost:7007/api/events',
    );
    const behindIngress = readWebhookSettings(
      new ConfigReader({
        gitops: { webhooks: { baseUrl: 'https://backstage.example.com/' } },
      }),
    );
    expect(await eventsBaseUrl(behindIngress, discovery)).toBe(
      'https://backstage.example.com/api/events',
    );
    expect(() =>
      readWebhookSettings(
        new ConfigReader({
          backend: { baseUrl: 'http://localhost:7007' },
          gitops: { webhooks: { baseUrl: 'ftp://example.com' } },
        }),
      ),
    ).toThrow(/gitops.webhooks.baseUrl must be an http\(s\) URL/);
  });
});
