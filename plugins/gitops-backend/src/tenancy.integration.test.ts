import {
  coreServices,
  createBackendModule,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import { permissionsRegistryServiceFactory } from '@backstage/backend-defaults/permissionsRegistry';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import permissionPlugin from '@backstage/plugin-permission-backend';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { stringify } from 'yaml';
import { eventually } from './__testUtils__/eventually';
import { sendsNothing } from './__testUtils__/sendsNothing';
import {
  sandboxBackendConfig,
  sandboxReceiverUrls,
  sandboxRegistration,
  sandboxGitLabMembers,
  sandboxRepositoryAccess,
} from './__testUtils__/sandboxConfig';
import { gitopsPlugin } from './plugin';
import {
  createRegisterDeliveryRepoAction,
  GitOpsBootstrapClient,
} from '@backstage-gitops/plugin-scaffolder-backend-module-gitops';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { ConfigReader } from '@backstage/config';
import { ScmIntegrations } from '@backstage/integration';
import { AddressInfo } from 'node:net';

jest.setTimeout(180_000);

const FLUX_NS = 'flux-system';
const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};

/** Who is who: a member of each team and a platform administrator. */
const MEMBERS: Record<string, string[]> = {
  'user:default/alice': ['group:default/team-apps'],
  'user:default/paula': ['group:default/team-payments'],
  'user:default/admin': ['group:default/platform-admins'],
  'user:default/rita': ['group:default/readers'],
};

/**
 * The policy an adopter writes when teams keep their deliveries to themselves: an
 * entity's owners read and act on it, decided by the catalog's `isEntityOwner`
 * condition; readers and platform administrators read everything; only platform
 * administrators manage clusters and tokens.
 */
const adopterPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'tenancy-test-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy({
          async handle(
            query: PolicyQuery,
            user?: PolicyQueryUser,
          ): Promise<PolicyDecision> {
            const claims = user?.info.ownershipEntityRefs ?? [];
            const name = query.permission.name;
            if (
              ['gitops.cluster.manage', 'gitops.tokens.manage'].includes(name)
            ) {
              return claims.includes('group:default/platform-admins')
                ? { result: AuthorizeResult.ALLOW }
                : { result: AuthorizeResult.DENY };
            }
            if (
              name === 'gitops.entity.read' &&
              ['group:default/readers', 'group:default/platform-admins'].some(
                group => claims.includes(group),
              )
            ) {
              return { result: AuthorizeResult.ALLOW };
            }
            if (
              name.startsWith('gitops.entity.') &&
              isResourcePermission(query.permission, 'catalog-entity')
            ) {
              return createCatalogConditionalDecision(
                query.permission,
                catalogConditions.isEntityOwner({ claims }),
              );
            }
            return { result: AuthorizeResult.ALLOW };
          },
        });
      },
    });
  },
});

const MOCK_SERVICE_TOKEN = 'mock-service-token:';

/**
 * The test backend's HTTP auth, which keeps who made an on-behalf-of request: Backstage's
 * own auth service gives the user principal of such a token its plugin as `actor` (the
 * permission backend refuses a resource permission without a resourceRef to a user
 * calling directly), and the mock service drops it.
 */
const httpAuthKeepingActor = createServiceFactory({
  service: coreServices.httpAuth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }) {
    const inner = mockServices.httpAuth({ pluginId: plugin.getId() });
    return {
      async credentials(req: any, options?: any) {
        const credentials = await inner.credentials(req, options);
        const token = /^Bearer\s+(\S+)$/i.exec(
          String(req.headers.authorization ?? ''),
        )?.[1];
        const principal = credentials.principal as { userEntityRef?: string };
        if (principal.userEntityRef && token?.startsWith(MOCK_SERVICE_TOKEN)) {
          const { sub } = JSON.parse(token.slice(MOCK_SERVICE_TOKEN.length));
          return mockCredentials.user(principal.userEntityRef, {
            actor: { subject: sub },
          }) as any;
        }
        return credentials;
      },
      issueUserCookie: (res: any, options?: any) =>
        inner.issueUserCookie(res, options),
    };
  },
});

function component(
  name: string,
  owner: string,
  annotations: Record<string, string>,
) {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, annotations },
    spec: { type: 'service', lifecycle: 'production', owner },
  };
}

/**
 * Two teams on one Backstage, with the real permission framework: the permission
 * backend asks the policy above, and its `isEntityOwner` conditions are applied by the
 * real catalog backend to entities it read from a catalog file. No decision is mocked.
 */
describe('tenant isolation, with the real permission framework and catalog', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  const as = (user: string) => ({
    Authorization: mockCredentials.user.header(user),
  });
  const dev = () => world.cluster('dev').api.store;
  const kustomization = (namespace: string, name: string) =>
    dev().get(KUSTOMIZATION, namespace, name) as
      | { spec: { suspend?: boolean } }
      | undefined;
  const deployTokens = async () => {
    const res = await fetch(
      `${world.gitlab.url}/api/v4/projects/${encodeURIComponent(
        world.demo.project.pathWithNamespace,
      )}/deploy_tokens`,
      { headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin } },
    );
    return (await res.json()) as unknown[];
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-tenancy-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
    sandboxGitLabMembers(world, ['paula', 'rita', 'admin']);
    const repository = world.demo.project.httpUrl;
    const catalogFile = join(dataDir, 'catalog.yaml');
    await writeFile(
      catalogFile,
      [
        ...['team-apps', 'team-payments', 'platform-admins', 'readers'].map(
          name => ({
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Group',
            metadata: { name },
            spec: { type: 'team', children: [] },
          }),
        ),
        component('podinfo', 'group:default/team-apps', {
          'gitops.backstage.io/delivery-repositories': repository,
          'gitops.backstage.io/delivery-path': 'apps/podinfo',
          'backstage.io/kubernetes-id': 'podinfo',
        }),
        component('payments', 'group:default/team-payments', {
          'gitops.backstage.io/delivery-repositories': repository,
          'gitops.backstage.io/delivery-path': 'apps/payments',
          'backstage.io/kubernetes-id': 'payments',
        }),
        // The payments team names podinfo's repository path on an entity of its own, on
        // dev only, ...
        component('borrowed-path', 'group:default/team-payments', {
          'gitops.backstage.io/delivery-repositories': repository,
          'gitops.backstage.io/delivery-path': 'apps/podinfo',
          'gitops.backstage.io/clusters': 'dev',
        }),
        // ... and podinfo's kubernetes-id on another.
        component('borrowed-label', 'group:default/team-payments', {
          'backstage.io/kubernetes-id': 'podinfo',
          'gitops.backstage.io/clusters': 'dev',
        }),
      ]
        .map(entity => stringify(entity))
        .join('---\n'),
    );

    const backend = await startTestBackend({
      features: [
        gitopsPlugin,
        catalogPlugin,
        permissionPlugin,
        adopterPolicy,
        httpAuthKeepingActor,
        permissionsServiceFactory,
        permissionsRegistryServiceFactory,
        createServiceFactory({
          service: coreServices.userInfo,
          deps: {},
          factory: () => ({
            async getUserInfo(credentials) {
              const user = (credentials.principal as { userEntityRef: string })
                .userEntityRef;
              return {
                userEntityRef: user,
                ownershipEntityRefs: [user, ...(MEMBERS[user] ?? [])],
              };
            },
          }),
        }),
        mockServices.rootConfig.factory({
          data: {
            ...sandboxBackendConfig(world),
            permission: { enabled: true },
            catalog: {
              rules: [{ allow: ['Component', 'Group', 'Location'] }],
              locations: [{ type: 'file', target: catalogFile }],
            },
            gitops: {
              clusters: sandboxReceiverUrls(world),
              registration: sandboxRegistration,
              repositoryAccess: sandboxRepositoryAccess,
              bootstrap: { readyTimeout: { seconds: 15 } },
              tenancy: {
                tenants: [
                  { owner: 'group:default/team-apps', namespace: 'team-apps' },
                  {
                    owner: 'group:default/team-payments',
                    namespace: 'team-payments',
                  },
                ],
              },
            },
          },
        }),
      ],
    });
    server = backend.server;
    await eventually(
      'the catalog and both caches',
      async () => {
        const [catalog, clusters] = await Promise.all([
          request(server)
            .get('/api/gitops/entities/component/default/borrowed-label/status')
            .set(as('user:default/paula')),
          request(server)
            .get('/api/gitops/clusters')
            .set(as('user:default/admin')),
        ]);
        if (catalog.status !== 200) {
          throw new Error(
            `status ${catalog.status}: ${JSON.stringify(catalog.body)}`,
          );
        }
        // Both caches listed and watching: what they ask a cluster afterwards is the
        // work of a request (which `sendsNothing` counts).
        const ready = (name: string) =>
          clusters.body.items?.some(
            (c: { name: string; health?: { stale?: boolean } }) =>
              c.name === name && c.health && !c.health.stale,
          );
        if (!ready('dev') || !ready('prod')) {
          throw new Error(
            `clusters ${clusters.status}: ${JSON.stringify(clusters.body).slice(
              0,
              400,
            )}`,
          );
        }
        return true;
      },
      60_000,
    );
    // The registry knows every entity's annotations (as its round does every minute).
    for (const name of ['podinfo', 'payments', 'borrowed-path']) {
      await request(server)
        .get(`/api/gitops/entities/component/default/${name}/status`)
        .set(as('user:default/admin'));
    }
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A POST as the payments member, to be sent later (by `sendsNothing`). */
  const post = (path: string, body: object) => () =>
    request(server).post(path).set(as('user:default/paula')).send(body);

  const bootstrap = (user: string, body: Record<string, unknown>) =>
    request(server)
      .post('/api/gitops/flux/bootstrap')
      .set(as(user))
      .send({
        url: world.demo.project.httpUrl,
        name: 'tenancy-probe',
        credential: true,
        ...body,
      });

  it('refuses a payments member bootstrapping for podinfo, dry run or not, writing nothing', async () => {
    const tokensBefore = (await deployTokens()).length;
    for (const dryRun of [true, false]) {
      const res = await sendsNothing(world, () =>
        bootstrap('user:default/paula', {
          entityRef: 'component:default/podinfo',
          clusters: [{ name: 'dev', path: 'apps/podinfo/dev' }],
          dryRun,
        }),
      );
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(
        /gitops\.entity\.manage on component:default\/podinfo/,
      );
    }
    for (const namespace of [FLUX_NS, 'team-apps', 'team-payments']) {
      expect(kustomization(namespace, 'tenancy-probe')).toBeUndefined();
    }
    expect(await deployTokens()).toHaveLength(tokensBefore);
  });

  it('refuses the same through the scaffolder action, run as its initiator', async () => {
    const { port } = (
      server as unknown as { address(): AddressInfo }
    ).address();
    const action = createRegisterDeliveryRepoAction({
      // The scaffolder module's own client: a plugin request token for the initiator.
      api: new GitOpsBootstrapClient({
        auth: mockServices.auth({ pluginId: 'scaffolder' }),
        discovery: {
          getBaseUrl: async plugin => `http://localhost:${port}/api/${plugin}`,
          getExternalBaseUrl: async plugin =>
            `http://localhost:${port}/api/${plugin}`,
        },
      }),
      integrations: ScmIntegrations.fromConfig(
        new ConfigReader(sandboxBackendConfig(world)),
      ),
      entityTimeoutMs: 0,
    });
    for (const isDryRun of [true, false]) {
      const ctx = {
        ...createMockActionContext({
          input: {
            entityRef: 'component:default/podinfo',
            repoUrl: world.demo.project.httpUrl,
            clusters: ['dev'],
            path: 'apps/podinfo/{cluster}',
            name: 'tenancy-probe',
          },
        }),
        isDryRun,
        getInitiatorCredentials: async () =>
          mockCredentials.user('user:default/paula'),
      } as Parameters<typeof action.handler>[0];
      await sendsNothing(world, () =>
        expect(action.handler(ctx)).rejects.toThrow(
          /The gitops backend refused: Not allowed to gitops\.entity\.manage on component:default\/podinfo/,
        ),
      );
    }
    expect(kustomization('team-payments', 'tenancy-probe')).toBeUndefined();
  });

  it('takes from a payments member no repository they could not read on GitLab, through the API or bootstrap', async () => {
    // The apps team's private project: paula has no access to it on GitLab.
    world.gitlab.api.createGroup({ path: 'apps-private', owner: 'root' });
    world.gitlab.api.addMember({ group: 'apps-private' }, 'alice', 30);
    const secret = await world.gitlab.api.createProject({
      namespace: 'apps-private',
      path: 'secrets',
      visibility: 'private',
      files: { 'deploy/dev/kustomization.yaml': 'resources: []\n' },
    });
    const secretUrl = `${world.gitlab.url}/${secret.pathWithNamespace}.git`;
    const registered = await request(server)
      .post('/api/gitops/delivery-repositories')
      .set(as('user:default/paula'))
      .send({ entityRef: 'component:default/payments', url: secretUrl });
    expect(registered.status).toBe(403);
    expect(registered.body.error.message).toMatch(
      /apps-private\/secrets on .* is private and paula is not a member/,
    );
    const listed = await request(server)
      .get('/api/gitops/delivery-repositories')
      .query({ entityRef: 'component:default/payments' })
      .set(as('user:default/paula'));
    expect(JSON.stringify(listed.body)).not.toContain('apps-private');
    const tokensBefore = (await deployTokens()).length;
    for (const dryRun of [true, false]) {
      const res = await bootstrap('user:default/paula', {
        entityRef: 'component:default/payments',
        url: secretUrl,
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
        dryRun,
      });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/paula is not a member/);
    }
    expect(kustomization('team-payments', 'tenancy-probe')).toBeUndefined();
    expect(await deployTokens()).toHaveLength(tokensBefore);
    // A member of that project may.
    const forAlice = await request(server)
      .post('/api/gitops/flux/bootstrap')
      .set(as('user:default/alice'))
      .send({
        entityRef: 'component:default/podinfo',
        url: secretUrl,
        name: 'tenancy-probe',
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
        dryRun: true,
      });
    expect(forAlice.body.error).toBeUndefined();
    expect(forAlice.status).toBe(200);
  });

  it('refuses a payments member bootstrapping payments into a namespace not mapped to the team', async () => {
    for (const namespace of ['team-apps', FLUX_NS]) {
      const res = await sendsNothing(world, () =>
        bootstrap('user:default/paula', {
          entityRef: 'component:default/payments',
          clusters: [{ name: 'dev', path: 'apps/payments/dev', namespace }],
          dryRun: true,
        }),
      );
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(
        new RegExp(
          `Namespace ${namespace} on cluster dev is not the tenant namespace`,
        ),
      );
    }
    const privileged = await sendsNothing(world, () =>
      bootstrap('user:default/paula', {
        entityRef: 'component:default/payments',
        clusters: [{ name: 'dev', path: 'apps/payments/dev' }],
        privileged: true,
        dryRun: true,
      }),
    );
    expect(privileged.status).toBe(403);
    expect(privileged.body.error.message).toMatch(/gitops\.cluster\.manage/);
  });

  it('renders, for the owner, a Kustomization run as the tenant in its namespace', async () => {
    const res = await bootstrap('user:default/paula', {
      entityRef: 'component:default/payments',
      clusters: [{ name: 'dev', path: 'apps/payments/dev' }],
      dryRun: true,
    });
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.body.clusters[0].manifests[1]).toMatchObject({
      kind: 'Kustomization',
      metadata: { name: 'tenancy-probe', namespace: 'team-payments' },
      spec: {
        serviceAccountName: 'team-payments',
        targetNamespace: 'team-payments',
      },
    });
    // A template's dry run for an entity not yet registered: authorized by its owner.
    const prospective = (owner: string) =>
      bootstrap('user:default/paula', {
        entityRef: 'component:default/not-yet',
        owner,
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
        dryRun: true,
      });
    expect((await prospective('group:default/team-payments')).status).toBe(200);
    const foreign = await sendsNothing(world, () =>
      prospective('group:default/team-apps'),
    );
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.message).toMatch(
      /owned by group:default\/team-apps/,
    );
  });

  it('refuses acting on another team\u2019s objects through a repository path or a label named on one\u2019s own entity', async () => {
    const podinfoOnDev = {
      cluster: 'dev',
      kind: 'Kustomization',
      namespace: FLUX_NS,
      name: 'podinfo',
    };
    for (const entity of ['borrowed-path', 'borrowed-label']) {
      // The catalog annotations list podinfo on the entity's tab: a reader sees it there,
      // the payments member who may not read podinfo does not, and is told something
      // was left out ...
      const statusPath = `/api/gitops/entities/component/default/${entity}/status`;
      const forReader = await request(server)
        .get(statusPath)
        .set(as('user:default/rita'));
      expect(JSON.stringify(forReader.body)).toContain('"podinfo"');
      const forPaula = await request(server)
        .get(statusPath)
        .set(as('user:default/paula'));
      expect(forPaula.status).toBe(200);
      expect(JSON.stringify(forPaula.body)).not.toContain('"podinfo"');
      expect(
        forPaula.body.clusters.find((c: { name: string }) => c.name === 'dev')
          .hiddenObjects,
      ).toBeGreaterThanOrEqual(1);
      // ... and acting on it needs the permission on podinfo too.
      for (const action of ['suspend', 'reconcile']) {
        const res = await sendsNothing(
          world,
          post(`/api/gitops/entities/component/default/${entity}/${action}`, {
            target: podinfoOnDev,
          }),
        );
        expect(res.status).toBe(403);
        expect(res.body.error.message).toMatch(
          /Kustomization\/flux-system\/podinfo on dev: also claimed by component:default\/podinfo/,
        );
      }
    }
    expect(kustomization(FLUX_NS, 'podinfo')?.spec.suspend).toBeFalsy();
    const audit = await request(server)
      .get('/api/gitops/entities/component/default/borrowed-path/audit')
      .set(as('user:default/admin'));
    expect(audit.body.items).toEqual([]);
  });

  it('needs the permission on every claimant: podinfo\u2019s owners are held back on dev, where payments claims it too, and act on prod', async () => {
    const sync = (cluster: string) =>
      request(server)
        .post('/api/gitops/entities/component/default/podinfo/reconcile')
        .set(as('user:default/alice'))
        .send({
          target: {
            cluster,
            kind: 'Kustomization',
            namespace: FLUX_NS,
            name: 'podinfo',
          },
        });
    const onDev = await sendsNothing(world, () => sync('dev'));
    expect(onDev.status).toBe(403);
    expect(onDev.body.error.message).toMatch(
      /also claimed by component:default\/borrowed-(path|label)/,
    );
    const onProd = await sync('prod');
    expect(onProd.body.error).toBeUndefined();
    expect(onProd.status).toBe(202);
  });

  it('shows podinfo\u2019s owners what is theirs: an object in their tenant namespace stays, one in flux-system claimed also by payments does not', async () => {
    // A Kustomization in team-apps' namespace with podinfo's label, which the payments
    // team's borrowed-label names too.
    dev().create({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: {
        name: 'podinfo-extra',
        namespace: 'team-apps',
        labels: { 'backstage.io/kubernetes-id': 'podinfo' },
      },
      spec: {
        interval: '1h',
        path: './extra',
        prune: true,
        suspend: true,
        sourceRef: { kind: 'GitRepository', name: 'absent' },
      },
    });
    const names = (body: {
      clusters: Array<{
        name: string;
        chains: Array<{ source: { name: string }; consumers: unknown[] }>;
        kubernetesIdObjects: Array<{ name: string }>;
      }>;
    }) =>
      Object.fromEntries(
        body.clusters.map(c => [
          c.name,
          [
            ...c.chains.flatMap(chain =>
              (chain.consumers as Array<{ name: string }>).map(o => o.name),
            ),
            ...c.kubernetesIdObjects.map(o => o.name),
          ].sort(),
        ]),
      );
    const podinfo = await eventually('podinfo-extra in the cache', async () => {
      const res = await request(server)
        .get('/api/gitops/entities/component/default/podinfo/status')
        .set(as('user:default/alice'));
      if (!names(res.body).dev?.includes('podinfo-extra')) {
        throw new Error(JSON.stringify(names(res.body)));
      }
      return res.body;
    });
    // On dev, podinfo's flux-system Kustomization is claimed also by the payments
    // team's entities, which alice may not read: left out, and counted.
    expect(names(podinfo).dev).toEqual(['podinfo-extra']);
    expect(
      podinfo.clusters.find((c: { name: string }) => c.name === 'dev')
        .hiddenObjects,
    ).toBeGreaterThanOrEqual(1);
    expect(names(podinfo).prod).toEqual(['podinfo']);
    // The payments member's entity names the label, and sees none of podinfo's objects.
    const borrowed = await request(server)
      .get('/api/gitops/entities/component/default/borrowed-label/status')
      .set(as('user:default/paula'));
    expect(names(borrowed.body).dev).toEqual([]);
    expect(JSON.stringify(borrowed.body)).not.toContain('podinfo');
  });
});
