import {
  coreServices,
  createServiceFactory,
  RootLoggerService,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import { sendsNothing } from './__testUtils__/sendsNothing';
import {
  pushBackendConfig,
  pushBackendFeatures,
} from './__testUtils__/pushBackend';
import { sandboxGitLabMembers } from './__testUtils__/sandboxConfig';

jest.setTimeout(240_000);

const NS = 'flux-system';
const ENTITY = 'component:default/podinfo';
const ENTITY_PATH = '/api/gitops/entities/component/default/podinfo';
/** Planted in a Secret a GitRepository uses: what the token inventory reads. */
const CANARY = 'canary-7f3c9e1d2b4a6f8e0c1d3e5f7a9b2c4d';
/** The token a cluster is registered with through the API (stored encrypted). */
const REGISTRATION_CANARY = 'registration-canary-5e8a1c3f7b9d2e4f6a8c';
const ENCRYPTION_SECRET = 'encryption-secret-0a1b2c3d4e5f6a7b8c9d0e1f';
const WEBHOOK_SECRET = 'events-webhook-secret-9c8b7a6f5e4d3c2b1a';

const ROLES = ['reader', 'owner', 'nonOwner', 'admin', 'service'] as const;
type Role = (typeof ROLES)[number];

const USERS: Record<Exclude<Role, 'service'>, string> = {
  reader: 'user:default/reader',
  owner: 'user:default/owner',
  nonOwner: 'user:default/other',
  admin: 'user:default/admin',
};

function headerOf(role: Role): string {
  return role === 'service'
    ? mockCredentials.service.header()
    : mockCredentials.user.header(USERS[role]);
}

const podinfo: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'podinfo', namespace: 'default' },
  spec: { type: 'service', owner: USERS.owner, lifecycle: 'production' },
};

/**
 * The policy under test, as an adopter would write it (see the demo's
 * permissionPolicy.ts): a reader may only read entities; every other user also reads
 * the clusters and the token inventory; an entity's owner acts on it; an admin may do everything. A
 * service token without access restrictions is allowed everything, as Backstage's
 * ServerPermissionClient decides for service principals.
 */
async function decide(
  permission: string,
  resourceRef: string | undefined,
  credentials: BackstageCredentials,
): Promise<AuthorizeResult.ALLOW | AuthorizeResult.DENY> {
  const { principal } = credentials as BackstageCredentials<any>;
  if (principal.type === 'service') return AuthorizeResult.ALLOW;
  const user: string = principal.userEntityRef;
  if (user === USERS.admin) return AuthorizeResult.ALLOW;
  switch (permission) {
    case 'gitops.entity.read':
      return AuthorizeResult.ALLOW;
    case 'gitops.tokens.read':
    case 'gitops.cluster.read':
      return user === USERS.reader
        ? AuthorizeResult.DENY
        : AuthorizeResult.ALLOW;
    case 'gitops.entity.reconcile':
    case 'gitops.entity.suspend':
    case 'gitops.entity.manage':
      return resourceRef === ENTITY && user === podinfo.spec!.owner
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY;
    default:
      return AuthorizeResult.DENY;
  }
}

/** A root logger that keeps every line with its metadata, errors included. */
function capturingLogger(
  lines: string[],
  meta: Record<string, unknown> = {},
): RootLoggerService {
  const write = (level: string) => (message: string, extra?: Error | object) =>
    lines.push(
      `${level} ${message} ${inspect({ ...meta, extra }, { depth: 6 })}`,
    );
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: more => capturingLogger(lines, { ...meta, ...more }),
  };
}

interface Route {
  name: string;
  /** Makes, as the admin, what the request needs (an id), before it is sent. */
  prepare?(role: Role): Promise<string>;
  /** Sends the request as `role`, with what `prepare` made. */
  send(
    role: Role,
    as: (role: Role) => string,
    prepared: string,
  ): Promise<request.Response>;
  expected: Record<Role, number>;
  refused?: RegExp;
}

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

/**
 * Every endpoint × reader, owner, non-owner, admin and service, against the sandbox
 * world; then every secret the world holds is looked for in the database, the logs and
 * every response of the run.
 */
describe('who may do what, and where secrets go', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  let knex: Awaited<ReturnType<typeof databases.init>>;
  const logLines: string[] = [];
  const responses: string[] = [];
  const scheduler = mockServices.scheduler();
  const sharedEvents = mockServices.events();

  /** Every request goes through here, so every response is scanned at the end. */
  async function call(
    method: 'get' | 'post' | 'delete',
    path: string,
    authorization: string | undefined,
    body?: object,
  ): Promise<request.Response> {
    let req = request(server)[method](path);
    if (authorization) req = req.set('Authorization', authorization);
    const res = await (body ? req.send(body) : req);
    responses.push(
      `${method.toUpperCase()} ${path} ${res.status} ${JSON.stringify(
        res.headers,
      )} ${res.text}`,
    );
    return res;
  }

  const devTarget = {
    cluster: 'dev',
    kind: 'Kustomization',
    namespace: NS,
    name: 'podinfo',
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-security-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
    sandboxGitLabMembers(world, ['reader', 'owner', 'other', 'admin']);
    knex = await databases.init('SQLITE_3');
    // The canary: a source's credential Secret, as a platform team would create it.
    const dev = world.cluster('dev').api.store;
    dev.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'canary-auth', namespace: NS },
      type: 'Opaque',
      data: {
        username: Buffer.from('canary').toString('base64'),
        password: Buffer.from(CANARY).toString('base64'),
      },
    });
    dev.create({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'canary', namespace: NS },
      spec: {
        interval: '1h',
        url: world.demo.project.httpUrl,
        ref: { branch: 'main' },
        secretRef: { name: 'canary-auth' },
      },
    });

    const backend = await startTestBackend({
      features: [
        ...pushBackendFeatures({ events: sharedEvents, scheduler }),
        createServiceFactory({
          service: coreServices.rootLogger,
          deps: {},
          factory: () => capturingLogger(logLines),
        }),
        mockServices.database.factory({ knex }),
        mockServices.rootConfig.factory({
          data: pushBackendConfig(world, WEBHOOK_SECRET, {
            encryptionSecret: ENCRYPTION_SECRET,
            // The entity's owner is a team of one, with its tenant on every cluster.
            tenancy: {
              tenants: [{ owner: USERS.owner, namespace: 'team-apps' }],
            },
          }),
        }),
        catalogServiceMock.factory({ entities: [podinfo] }),
        mockServices.permissions.mock({
          authorize: async (requests, options) =>
            Promise.all(
              requests.map(async r => ({
                result: await decide(
                  r.permission.name,
                  'resourceRef' in r ? r.resourceRef : undefined,
                  options!.credentials,
                ),
              })),
            ),
        }).factory,
      ],
    });
    server = backend.server;

    const registered = await call(
      'post',
      '/api/gitops/delivery-repositories',
      headerOf('admin'),
      {
        entityRef: ENTITY,
        url: world.demo.project.httpUrl,
        path: 'apps/podinfo',
      },
    );
    if (registered.status !== 201) {
      throw new Error(`Registering podinfo's repository: ${registered.text}`);
    }
    // What the scheduler would run once the caches are in sync: receivers, the project
    // hook and the token inventory, so their secrets flow through the backend.
    await eventually(
      'a Receiver on each cluster',
      async () => {
        await scheduler.triggerTask('gitops-receivers');
        const res = await call(
          'get',
          '/api/gitops/receivers',
          headerOf('admin'),
        );
        const clusters = new Set(
          res.body.items?.map((r: { cluster: string }) => r.cluster),
        );
        if (clusters.size !== 2) throw new Error(res.text);
        return true;
      },
      60_000,
    );
    await scheduler.triggerTask('gitops-webhooks');
    await eventually('the token inventory with the canary', async () => {
      await scheduler.triggerTask('gitops-tokens-inventory');
      const res = await call('get', '/api/gitops/tokens', headerOf('admin'));
      return res.body.items?.some((t: { usages: Array<{ secret: string }> }) =>
        t.usages.some(usage => usage.secret === 'canary-auth'),
      );
    });
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const adminHeader = () => headerOf('admin');
  const newDeliveryRepository = async (path: string) => {
    const res = await call(
      'post',
      '/api/gitops/delivery-repositories',
      adminHeader(),
      { entityRef: ENTITY, url: world.demo.project.httpUrl, path },
    );
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const deployTokenId = async () => {
    await scheduler.triggerTask('gitops-tokens-inventory');
    const res = await call('get', '/api/gitops/tokens', adminHeader());
    return res.body.items.find((t: { name: string }) => t.name === 'flux-read')
      .id as string;
  };

  /** Refused to readers and non-owners; `ok` for the entity's owner, admins and services. */
  const ownersAndAdmins = (ok: number): Record<Role, number> => ({
    reader: 403,
    owner: ok,
    nonOwner: 403,
    admin: ok,
    service: ok,
  });
  /** Refused to every user but an admin; `ok` for admins and services. */
  const adminsOnly = (ok: number): Record<Role, number> => ({
    ...ownersAndAdmins(ok),
    owner: 403,
  });
  const READ_ALL = {
    reader: 200,
    owner: 200,
    nonOwner: 200,
    admin: 200,
    service: 200,
  };
  const ROUTES: Route[] = [
    {
      name: 'GET /health',
      send: () => call('get', '/api/gitops/health', undefined),
      expected: READ_ALL,
    },
    {
      name: 'GET /clusters',
      send: (_, as) => call('get', '/api/gitops/clusters', as(_)),
      expected: { ...READ_ALL, reader: 403 },
      refused: /gitops\.cluster\.read/,
    },
    {
      name: 'POST /clusters',
      send: (role, as) =>
        call('post', '/api/gitops/clusters', as(role), {
          name: `matrix-${role.toLowerCase()}`,
          url: world.cluster('dev').api.url,
          caData: world.cluster('dev').caData,
          token: REGISTRATION_CANARY,
        }),
      expected: adminsOnly(201),
      refused: /gitops\.cluster\.manage/,
    },
    {
      name: 'DELETE /clusters/:name',
      send: (role, as) =>
        call(
          'delete',
          `/api/gitops/clusters/matrix-${role.toLowerCase()}`,
          as(role),
        ),
      expected: adminsOnly(204),
      refused: /gitops\.cluster\.manage/,
    },
    {
      name: 'GET /delivery-repositories',
      send: (role, as) =>
        call(
          'get',
          `/api/gitops/delivery-repositories?entityRef=${encodeURIComponent(
            ENTITY,
          )}`,
          as(role),
        ),
      expected: READ_ALL,
    },
    {
      name: 'POST /delivery-repositories',
      send: (role, as) =>
        call('post', '/api/gitops/delivery-repositories', as(role), {
          entityRef: ENTITY,
          url: world.demo.project.httpUrl,
          path: `apps/matrix-${role.toLowerCase()}`,
        }),
      expected: ownersAndAdmins(201),
      refused: /gitops\.entity\.manage/,
    },
    {
      name: 'DELETE /delivery-repositories/:id',
      prepare: role =>
        newDeliveryRepository(`apps/delete-${role.toLowerCase()}`),
      send: (role, as, id) =>
        call('delete', `/api/gitops/delivery-repositories/${id}`, as(role)),
      expected: ownersAndAdmins(204),
      refused: /gitops\.entity\.manage/,
    },
    {
      name: 'GET /entities/…/status',
      send: (role, as) => call('get', `${ENTITY_PATH}/status`, as(role)),
      expected: READ_ALL,
    },
    {
      name: 'POST /entities/…/reconcile',
      send: (role, as) =>
        call('post', `${ENTITY_PATH}/reconcile`, as(role), {
          target: devTarget,
        }),
      expected: ownersAndAdmins(202),
      refused: /gitops\.entity\.reconcile/,
    },
    {
      name: 'POST /entities/…/suspend',
      send: (role, as) =>
        call('post', `${ENTITY_PATH}/suspend`, as(role), { target: devTarget }),
      expected: ownersAndAdmins(202),
      refused: /gitops\.entity\.suspend/,
    },
    {
      name: 'POST /entities/…/resume',
      send: (role, as) =>
        call('post', `${ENTITY_PATH}/resume`, as(role), { target: devTarget }),
      expected: ownersAndAdmins(202),
      refused: /gitops\.entity\.suspend/,
    },
    {
      name: 'GET /operations/:id',
      prepare: async () =>
        (
          await call('post', `${ENTITY_PATH}/reconcile`, adminHeader(), {
            target: devTarget,
          })
        ).body.items[0].id,
      send: (role, as, id) =>
        call('get', `/api/gitops/operations/${id}`, as(role)),
      expected: READ_ALL,
    },
    {
      name: 'GET /entities/…/audit',
      send: (role, as) => call('get', `${ENTITY_PATH}/audit`, as(role)),
      expected: READ_ALL,
    },
    {
      name: 'GET /entities/…/receivers',
      send: (role, as) => call('get', `${ENTITY_PATH}/receivers`, as(role)),
      expected: READ_ALL,
    },
    {
      name: 'GET /receivers',
      send: (role, as) => call('get', '/api/gitops/receivers', as(role)),
      expected: adminsOnly(200),
      refused: /gitops\.cluster\.manage/,
    },
    ...[
      '/api/gitops/tokens',
      '/api/gitops/tokens/report',
      `${ENTITY_PATH}/tokens`,
    ].map(
      (path): Route => ({
        name: `GET ${path.replace('/api/gitops', '')}`,
        send: (role, as) => call('get', path, as(role)),
        expected: {
          reader: 403,
          owner: 200,
          nonOwner: 200,
          admin: 200,
          service: 200,
        },
        refused: /gitops\.tokens\.read/,
      }),
    ),
    {
      name: 'POST /tokens',
      send: (role, as) =>
        call('post', '/api/gitops/tokens', as(role), {
          repository: world.demo.ociUrl,
          purpose: 'read',
        }),
      expected: adminsOnly(201),
      refused: /gitops\.tokens\.manage/,
    },
    {
      name: 'POST /tokens/:id/rotate',
      prepare: () => deployTokenId(),
      send: (role, as, id) =>
        call('post', `/api/gitops/tokens/${id}/rotate`, as(role)),
      expected: adminsOnly(200),
      refused: /gitops\.tokens\.manage/,
    },
    {
      name: 'POST /flux/bootstrap (dry run)',
      send: (role, as) =>
        call('post', '/api/gitops/flux/bootstrap', as(role), {
          entityRef: ENTITY,
          url: world.demo.project.httpUrl,
          clusters: [{ name: 'dev', path: 'apps/podinfo/dev' }],
          dryRun: true,
        }),
      expected: ownersAndAdmins(200),
      refused: /gitops\.entity\.manage/,
    },
    {
      name: 'POST /notify',
      send: (role, as) =>
        call('post', '/api/gitops/notify', as(role), {
          repository: world.demo.project.httpUrl,
        }),
      // A CI pipeline's endpoint: service tokens only, whatever the user may do.
      expected: {
        reader: 403,
        owner: 403,
        nonOwner: 403,
        admin: 403,
        service: 202,
      },
      refused: /user/,
    },
  ];

  describe.each(ROUTES)('$name', route => {
    it.each(ROLES)('as %s', async role => {
      const expected = route.expected[role];
      const prepared = (await route.prepare?.(role)) ?? '';
      const send = () => route.send(role, headerOf, prepared);
      // A refusal writes nothing (below) and sends nothing to GitLab or a cluster.
      const res =
        expected === 403 ? await sendsNothing(world, send) : await send();
      const message: string = res.body?.error?.message ?? '';
      expect({ status: res.status, message }).toEqual({
        status: expected,
        message: expect.any(String),
      });
      // A refusal names what was refused; a success carries no error.
      expect(message).toMatch(expected === 403 ? route.refused! : /^$/);
    });
  });

  it('wrote nothing for a refused request', async () => {
    const clusters = await call('get', '/api/gitops/clusters', adminHeader());
    expect(
      clusters.body.items
        .map((c: { name: string }) => c.name)
        .filter((name: string) => name.startsWith('matrix-')),
    ).toEqual([]);
    const repositories = await call(
      'get',
      `/api/gitops/delivery-repositories?entityRef=${encodeURIComponent(
        ENTITY,
      )}`,
      adminHeader(),
    );
    expect(
      repositories.body.items
        .map((r: { path?: string }) => r.path)
        .filter((path: string) => /matrix|delete/.test(path))
        .sort(),
    ).toEqual([
      // The refused deletes left theirs; the refused creates made none.
      'apps/delete-nonowner',
      'apps/delete-reader',
      'apps/matrix-admin',
      'apps/matrix-owner',
      'apps/matrix-service',
    ]);
    const audit = await call(
      'get',
      `${ENTITY_PATH}/audit?limit=500`,
      adminHeader(),
    );
    const actors = new Set(
      audit.body.items.map((entry: { actor: string }) => entry.actor),
    );
    expect(actors.has(USERS.reader)).toBe(false);
    expect(actors.has(USERS.nonOwner)).toBe(false);
    expect(actors.has(USERS.owner)).toBe(true);
  });

  it('lets no secret of the world reach the database, the logs or a response', async () => {
    // A push through the webhook: the events secret and the receivers' tokens in use.
    await world.gitlab.api.commitFiles(world.demo.project.pathWithNamespace, {
      files: { 'notes/security.md': `${Date.now()}\n` },
      message: 'A push through the webhook',
    });
    await eventually('the push relayed to both receivers', () =>
      ['dev', 'prod'].every(
        name => world.cluster(name).notification.requests.length > 0,
      ),
    );

    const secrets = new Map<string, string>([
      ['the canary', CANARY],
      ['the registration token', REGISTRATION_CANARY],
      ['the encryption secret', ENCRYPTION_SECRET],
      ['the events webhook secret', WEBHOOK_SECRET],
      ['the GitLab integration token', world.demo.tokens.gitlabAdmin],
    ]);
    for (const cluster of world.clusters.values()) {
      secrets.set(
        `${cluster.name}'s backstage token`,
        cluster.tokens.backstage,
      );
      secrets.set(`${cluster.name}'s admin token`, cluster.tokens.admin);
      // Every Secret value on the cluster at the end: minted, rotated and receiver tokens.
      const all = cluster.api.store.list({ apiVersion: 'v1', kind: 'Secret' });
      for (const secret of all.items) {
        for (const [key, value] of Object.entries(
          (secret.data ?? {}) as Record<string, string>,
        )) {
          const decoded = Buffer.from(value, 'base64').toString('utf8');
          // A username is not a secret (the inventory shows it).
          if (key !== 'username' && decoded.length >= 16) {
            secrets.set(
              `${cluster.name} Secret ${secret.metadata?.name}.${key}`,
              decoded,
            );
          }
        }
      }
    }
    expect(secrets.size).toBeGreaterThan(10);

    const rows: string[] = [];
    const tables = await knex('sqlite_master')
      .where({ type: 'table' })
      .pluck('name');
    for (const table of tables) {
      rows.push(JSON.stringify(await knex(table).select()));
    }
    const places: Record<string, string> = {
      'the database': rows.join('\n'),
      'the logs': logLines.join('\n'),
      'a response': responses.join('\n'),
    };
    expect(logLines.length).toBeGreaterThan(0);
    const leaks = [];
    for (const [what, value] of secrets) {
      for (const [place, text] of Object.entries(places)) {
        if (
          text.includes(value) ||
          text.includes(Buffer.from(value).toString('base64'))
        ) {
          leaks.push(`${what} in ${place}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });
});
