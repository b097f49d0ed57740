import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import knexFactory, { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import { startTcpProxy } from './__testUtils__/tcpProxy';
import {
  pushBackendConfig,
  pushBackendFeatures,
} from './__testUtils__/pushBackend';

jest.setTimeout(180_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15'] });
const WEBHOOK_SECRET = 'the-replicas-webhook-secret';
const CLUSTERS = ['dev', 'prod'];
const NS = 'flux-system';
const ENTITY_PATH = '/api/gitops/entities/component/default/podinfo';
const auth = {
  Authorization: mockCredentials.user.header('user:default/guest'),
};
const devPodinfo = {
  cluster: 'dev',
  kind: 'Kustomization',
  namespace: NS,
  name: 'podinfo',
};

interface Replica {
  name: string;
  server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  stop(): Promise<void>;
  scheduler: ReturnType<typeof mockServices.scheduler>;
  knex: Knex;
}

/**
 * Two replicas of the backend on one PostgreSQL database, each with its own connection
 * pool, event bus and scheduler, against one sandbox world: what one accepts, the
 * other sees and never does twice.
 */
describe('two backend replicas on one PostgreSQL', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let a: Replica;
  let b: Replica;
  /** The test's own connection to the shared database. */
  let admin: Knex;
  /** What the replicas reach PostgreSQL through: b, and a (which can stall) its own. */
  let database: Awaited<ReturnType<typeof startTcpProxy>>;
  let databaseOfA: Awaited<ReturnType<typeof startTcpProxy>>;

  async function startReplica(
    name: string,
    connection: Knex.Config,
  ): Promise<Replica> {
    const knex = knexFactory(connection);
    const scheduler = mockServices.scheduler();
    const events = mockServices.events();
    const backend = await startTestBackend({
      features: [
        ...pushBackendFeatures({ events, scheduler }),
        // In production each plugin has its own database: the gitops plugin's is the
        // shared PostgreSQL one, the events plugin's a private one.
        createServiceFactory({
          service: coreServices.database,
          deps: { plugin: coreServices.pluginMetadata },
          factory: ({ plugin }) =>
            mockServices.database({
              knex:
                plugin.getId() === 'gitops'
                  ? knex
                  : knexFactory({
                      client: 'better-sqlite3',
                      connection: ':memory:',
                      useNullAsDefault: true,
                    }),
            }),
        }),
        mockServices.rootConfig.factory({
          data: pushBackendConfig(world, WEBHOOK_SECRET, {
            // Every credential with an expiry is due: the test triggers the rounds.
            tokens: { rotation: { enabled: true, beforeExpiryDays: 365 } },
          }),
        }),
        catalogServiceMock.factory({
          entities: [
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
      ],
    });
    return {
      name,
      server: backend.server,
      stop: () => backend.stop(),
      scheduler,
      knex,
    };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-replicas-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
    admin = await databases.init('POSTGRES_15');
    // Each replica gets its own pool to the same database, through a proxy that can
    // play a PostgreSQL restart.
    const config = admin.client.config as Knex.Config;
    const direct = config.connection as Knex.PgConnectionConfig;
    database = await startTcpProxy({
      host: direct.host ?? '127.0.0.1',
      port: direct.port ?? 5432,
    });
    databaseOfA = await startTcpProxy({
      host: direct.host ?? '127.0.0.1',
      port: direct.port ?? 5432,
    });
    const through = (proxy: typeof database) => ({
      ...config,
      connection: { ...direct, host: '127.0.0.1', port: proxy.port },
    });
    a = await startReplica('a', through(databaseOfA));
    b = await startReplica('b', through(database));

    const registered = await request(a.server)
      .post('/api/gitops/delivery-repositories')
      .set(auth)
      .send({
        entityRef: 'component:default/podinfo',
        url: world.demo.project.httpUrl,
        path: 'apps/podinfo',
      });
    if (registered.status !== 201) {
      throw new Error(`Registering podinfo failed: ${registered.text}`);
    }
    // The receivers, made by one replica (the scheduler's global scope); both caches
    // must see their webhook paths.
    await eventually(
      'a Receiver on each cluster, in both replicas',
      async () => {
        await a.scheduler.triggerTask('gitops-receivers');
        for (const replica of [a, b]) {
          const res = await request(replica.server)
            .get(`${ENTITY_PATH}/receivers`)
            .set(auth);
          if (res.body.items?.length !== CLUSTERS.length) return false;
        }
        return CLUSTERS.every(
          name =>
            (
              world.cluster(name).api.store.get(
                {
                  apiVersion: 'notification.toolkit.fluxcd.io/v1',
                  kind: 'Receiver',
                },
                NS,
                'gitops-git-team-delivery',
              )?.status as { webhookPath?: string } | undefined
            )?.webhookPath,
        );
      },
      60_000,
    );
    // The watch caches see the webhook paths a moment after the clusters store them.
    await new Promise(resolve => setTimeout(resolve, 1_000));
  });

  afterAll(async () => {
    await a?.stop().catch(() => {});
    await b?.stop().catch(() => {});
    await a?.knex.destroy();
    await b?.knex.destroy();
    await database?.stop();
    await databaseOfA?.stop();
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const operation = (replica: Replica, id: string) =>
    request(replica.server).get(`/api/gitops/operations/${id}`).set(auth);

  /** The demo project's deploy tokens on GitLab, numbered in creation order. */
  const deployTokens = async () => {
    const res = await fetch(
      `${world.gitlab.url}/api/v4/projects/${encodeURIComponent(
        world.demo.project.pathWithNamespace,
      )}/deploy_tokens`,
      { headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin } },
    );
    return (await res.json()) as Array<{
      id: number;
      name: string;
      revoked: boolean;
    }>;
  };
  const liveFluxRead = async () =>
    (await deployTokens()).filter(t => t.name === 'flux-read' && !t.revoked);

  /** A reconcile on `replica` that takes the controller 2 s, once it was requested. */
  const slowReconcileOn = async (replica: Replica, ms = 2_000) => {
    world.cluster('dev').flux.faults.setReconcileDuration(ms);
    const started = await request(replica.server)
      .post(`${ENTITY_PATH}/reconcile`)
      .set(auth)
      .send({ target: devPodinfo });
    expect(started.status).toBe(202);
    const id: string = started.body.items[0].id;
    await eventually('the reconcile requested', async () =>
      (
        await operation(replica, id)
      ).body.steps?.some((s: { type: string }) => s.type === 'requested'),
    );
    return id;
  };
  const requestedOnce = (finished: { steps: Array<{ type: string }> }) =>
    expect(finished.steps.filter(s => s.type === 'requested')).toHaveLength(1);

  afterEach(() => world.cluster('dev').flux.faults.setReconcileDuration(0));

  it('shows an operation started on one replica on the other, until it completes', async () => {
    const started = await request(a.server)
      .post(`${ENTITY_PATH}/reconcile`)
      .set(auth)
      .send({ target: devPodinfo });
    expect(started.status).toBe(202);
    const id = started.body.items[0].id;
    const seen = await operation(b, id);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ id, requestedBy: 'user:default/guest' });
    const finished = await eventually(
      'the operation to succeed, from b',
      async () => {
        const res = await operation(b, id);
        return res.body.status === 'succeeded' && res.body;
      },
    );
    expect(finished.steps.map((s: { type: string }) => s.type)).toContain(
      'ready',
    );
    // Nobody adopts a finished operation: b's sweep starts nothing.
    await b.scheduler.triggerTask('gitops-operations-adopt');
    expect((await operation(b, id)).body.steps).toEqual(finished.steps);
  });

  it('relays a push delivered to both replicas once to each receiver', async () => {
    const head = await world.gitlab.api
      .repository(world.demo.project.pathWithNamespace)
      .resolveCommit('refs/heads/main');
    const hook = {
      object_kind: 'push',
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: head,
      checkout_sha: head,
      project: {
        git_http_url: world.demo.project.httpUrl,
        web_url: world.demo.project.webUrl,
      },
    };
    const uuid = randomUUID();
    const before = CLUSTERS.map(
      name => world.cluster(name).notification.requests.length,
    );
    // GitLab redelivers (a timeout on its side); the load balancer picks the other replica.
    const answers = await Promise.all(
      [a, b].map(replica =>
        request(replica.server)
          .post('/api/events/http/gitlab')
          .set('Content-Type', 'application/json')
          .set('X-Gitlab-Token', WEBHOOK_SECRET)
          .set('X-Gitlab-Event', 'Push Hook')
          .set('X-Gitlab-Event-UUID', uuid)
          .send(hook),
      ),
    );
    expect(answers.map(res => res.status)).toEqual([202, 202]);
    await eventually('each receiver called', () =>
      CLUSTERS.every(
        (name, i) =>
          world.cluster(name).notification.requests.length > before[i],
      ),
    );
    // Long enough for a second relay to have reached the receivers.
    await new Promise(resolve => setTimeout(resolve, 1_500));
    expect(
      CLUSTERS.map(
        (name, i) =>
          world.cluster(name).notification.requests.length - before[i],
      ),
    ).toEqual([1, 1]);
  });

  it('rotates a credential once when both replicas are asked at the same moment', async () => {
    await a.scheduler.triggerTask('gitops-tokens-inventory');
    const tokens = await request(a.server).get('/api/gitops/tokens').set(auth);
    const deployToken = tokens.body.items.find(
      (t: { name: string }) => t.name === 'flux-read',
    );
    expect(await liveFluxRead()).toHaveLength(1);
    const answers = await Promise.all(
      [a, b].map(replica =>
        request(replica.server)
          .post(`/api/gitops/tokens/${deployToken.id}/rotate`)
          .set(auth),
      ),
    );
    expect(answers.map(res => res.status).sort()).toEqual([200, 409]);
    expect(answers.find(res => res.status === 409)!.body.error.message).toMatch(
      /already running/,
    );
    // The old one revoked, exactly one new one: not two rotations racing.
    expect(await liveFluxRead()).toHaveLength(1);
  });

  it('runs a scheduled rotation once when both replicas start the round at once', async () => {
    // The rotated deploy token of the test before has an expiry: it is due.
    await a.scheduler.triggerTask('gitops-tokens-inventory');
    const lastId = Math.max(...(await deployTokens()).map(t => t.id));
    // The scheduler's global scope would start it on one replica only; even started
    // on both, the credential is rotated once.
    await Promise.all(
      [a, b].map(replica =>
        replica.scheduler.triggerTask('gitops-tokens-rotation'),
      ),
    );
    // GitLab numbers tokens in order: one rotation made exactly the next one.
    expect((await liveFluxRead()).map(t => t.id)).toEqual([lastId + 1]);
  });

  it('loses no operation when PostgreSQL restarts under the replicas', async () => {
    const id = await slowReconcileOn(b);
    // Every pooled connection dropped, and none possible for 4 s, mid-operation:
    // the controller is Ready (and the step written) while the database is away.
    const restarting = Promise.all([
      database.restart(4_000),
      databaseOfA.restart(4_000),
    ]);
    await new Promise(resolve => setTimeout(resolve, 500));
    const meanwhile = await operation(a, id);
    expect(meanwhile.status).toBeGreaterThanOrEqual(500);
    await restarting;

    const finished = await eventually(
      'the operation to succeed',
      async () => {
        const res = await operation(b, id);
        return res.body.status === 'succeeded' && res.body;
      },
      30_000,
    );
    expect(finished.steps.at(-1).type).toBe('ready');
    requestedOnce(finished);
    // Both replicas answer again, with no restart of theirs.
    for (const replica of [a, b]) {
      const res = await request(replica.server)
        .get('/api/gitops/delivery-repositories')
        .set(auth);
      expect(res.status).toBe(200);
    }
  });

  it('relays a push replayed with fresh delivery ids once, whichever replica gets it', async () => {
    const head = await world.gitlab.api
      .repository(world.demo.project.pathWithNamespace)
      .resolveCommit('refs/heads/main');
    // A ref of its own: the push to main at this commit was relayed by a test before.
    const hook = {
      object_kind: 'push',
      ref: `refs/heads/replayed-${randomUUID()}`,
      before: '0'.repeat(40),
      after: head,
      checkout_sha: head,
      project: {
        git_http_url: world.demo.project.httpUrl,
        web_url: world.demo.project.webUrl,
      },
    };
    const deliver = (replica: Replica, uuid: string) =>
      request(replica.server)
        .post('/api/events/http/gitlab')
        .set('Content-Type', 'application/json')
        .set('X-Gitlab-Token', WEBHOOK_SECRET)
        .set('X-Gitlab-Event', 'Push Hook')
        .set('X-Gitlab-Event-UUID', uuid)
        .send(hook);
    const before = CLUSTERS.map(
      name => world.cluster(name).notification.requests.length,
    );
    // Replayed (a captured webhook sent again, or a Git host's "resend" that mints a
    // new id) to both replicas at once, then once more.
    const uuids = [randomUUID(), randomUUID(), randomUUID()];
    const answers = await Promise.all([
      deliver(a, uuids[0]),
      deliver(b, uuids[1]),
    ]);
    expect(answers.map(res => res.status)).toEqual([202, 202]);
    expect((await deliver(b, uuids[2])).status).toBe(202);
    await eventually('each receiver called', () =>
      CLUSTERS.every(
        (name, i) =>
          world.cluster(name).notification.requests.length > before[i],
      ),
    );
    // Long enough for a second relay to have reached the receivers.
    await new Promise(resolve => setTimeout(resolve, 1_500));
    expect(
      CLUSTERS.map(
        (name, i) =>
          world.cluster(name).notification.requests.length - before[i],
      ),
    ).toEqual([1, 1]);
    // All three recorded (a redelivery of any id is known), none left to adopt.
    const rows = await admin('gitops_push_deliveries').whereIn('id', uuids);
    expect(rows.map(row => row.status)).toEqual(['done', 'done', 'done']);
  });

  it('fences a replica that stalled past its lease: nothing it writes lands after the adopter', async () => {
    // The controller takes 3 s: a is waiting for it when it stalls.
    const id = await slowReconcileOn(a, 3_000);
    // a stalls: not a byte between it and the database (its renewals included), as a
    // long GC pause, a blocked event loop or a partition looks to PostgreSQL.
    const stall = databaseOfA.hold();
    try {
      // Its lease runs out (the test does not wait the 60 s), and b adopts the operation.
      await admin('gitops_operations')
        .where({ id })
        .update({ lease_expires_at: new Date(Date.now() - 1) });
      await b.scheduler.triggerTask('gitops-operations-adopt');
      const finished = await eventually('b to finish it', async () => {
        const res = await operation(b, id);
        return res.body.status === 'succeeded' && res.body;
      });
      requestedOnce(finished);
      const row = await admin('gitops_operations').where({ id }).first();
      expect(row.lease_generation).toBe(2);
      // Meanwhile a saw the object Ready too and tried to record it: held back.
      await eventually('a to try a write', async () => stall.count > 0);

      // a wakes up: its writes reach the database after b's, and change nothing.
      stall.release();
      await new Promise(resolve => setTimeout(resolve, 2_000));
      expect(await admin('gitops_operations').where({ id }).first()).toEqual(
        row,
      );
      expect((await operation(a, id)).body).toEqual(finished);
      // One audit entry, b's.
      const audit = await admin('gitops_audit').where({ operation_id: id });
      expect(audit).toHaveLength(1);
    } finally {
      stall.release();
    }
  });

  it('finishes, on the other replica, an operation whose replica stopped', async () => {
    const id = await slowReconcileOn(a);
    await a.stop();

    const left = await operation(b, id);
    expect(left.body.status).toBe('running');
    await b.scheduler.triggerTask('gitops-operations-adopt');
    const finished = await eventually('b to finish it', async () => {
      const res = await operation(b, id);
      return res.body.status === 'succeeded' && res.body;
    });
    // Adopted where it stood: the reconcile was requested once.
    requestedOnce(finished);
  });
});
