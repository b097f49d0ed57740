import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { eventually } from './__testUtils__/eventually';
import {
  sandboxBackendConfig,
  sandboxReceiverUrls,
  sandboxRegistration,
  sandboxGitLabMembers,
  sandboxRepositoryAccess,
} from './__testUtils__/sandboxConfig';
import { gitopsPlugin } from './plugin';

jest.setTimeout(120_000);

const NS = 'flux-system';
/** The guest's tenant namespace (gitops.tenancy below), where its objects go. */
const TENANT = 'team-apps';
const GIT = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};
const SECRET = { apiVersion: 'v1', kind: 'Secret' };
const ENTITY_REF = 'component:default/new-service';

interface DeployToken {
  id: number;
  name: string;
  scopes: string[];
  revoked: boolean;
}

/**
 * `POST /flux/bootstrap` against the sandbox: a new private GitLab project is wired to
 * Flux on `dev` with nothing done by hand, and every bad request is refused before
 * anything is written anywhere.
 */
describe('bootstrapping a new delivery repository', () => {
  let world: SandboxWorld;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  let projectUrl: string;
  const scheduler = mockServices.scheduler();
  const auth = {
    Authorization: mockCredentials.user.header('user:default/guest'),
  };
  const admin = {
    Authorization: mockCredentials.user.header('user:default/admin'),
  };
  const gitlab = async <T>(
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<T> => {
    const res = await fetch(`${world.gitlab.url}/api/v4${path}`, {
      method: init.method ?? 'GET',
      headers: {
        'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin,
        'Content-Type': 'application/json',
      },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    if (!res.ok) throw new Error(`GitLab ${path}: ${res.status}`);
    return res.json() as Promise<T>;
  };
  const deployTokens = () =>
    gitlab<DeployToken[]>(
      `/projects/${encodeURIComponent('team/new-service')}/deploy_tokens`,
    );
  const dev = () => world.cluster('dev').api.store;
  const registeredRepositories = () =>
    request(server)
      .get(
        `/api/gitops/delivery-repositories?entityRef=${encodeURIComponent(
          ENTITY_REF,
        )}`,
      )
      .set(auth);
  const bootstrap = (
    body: Record<string, unknown>,
    as: Record<string, string> = auth,
  ) =>
    request(server)
      .post('/api/gitops/flux/bootstrap')
      .set(as)
      .send({ entityRef: ENTITY_REF, url: projectUrl, ...body });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-bootstrap-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
    sandboxGitLabMembers(world, ['admin']);
    const project = await gitlab<{ http_url_to_repo: string }>('/projects', {
      method: 'POST',
      body: {
        name: 'new-service',
        path: 'new-service',
        namespace_id: 'team',
        visibility: 'private',
        initialize_with_readme: true,
      },
    });
    projectUrl = project.http_url_to_repo;
    await gitlab(
      `/projects/${encodeURIComponent('team/new-service')}/repository/commits`,
      {
        method: 'POST',
        body: {
          branch: 'main',
          commit_message: 'A kustomize overlay for dev',
          actions: [
            {
              action: 'create',
              file_path: 'deploy/dev/kustomization.yaml',
              content: 'resources:\n  - configmap.yaml\n',
            },
            {
              action: 'create',
              file_path: 'deploy/escalate/kustomization.yaml',
              content: 'resources:\n  - binding.yaml\n',
            },
            {
              action: 'create',
              file_path: 'deploy/escalate/binding.yaml',
              content:
                'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: tenant-escalates\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - kind: ServiceAccount\n    name: team-apps\n    namespace: team-apps\n',
            },
            {
              action: 'create',
              file_path: 'deploy/dev/configmap.yaml',
              content:
                'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new-service\n  namespace: default\ndata:\n  greeting: hello\n',
            },
          ],
        },
      },
    );
    const backend = await startTestBackend({
      features: [
        gitopsPlugin,
        createServiceFactory({
          service: coreServices.scheduler,
          deps: {},
          factory: () => scheduler,
        }),
        mockServices.rootConfig.factory({
          data: {
            ...sandboxBackendConfig(world),
            gitops: {
              bootstrap: { readyTimeout: { seconds: 15 } },
              clusters: sandboxReceiverUrls(world),
              registration: sandboxRegistration,
              repositoryAccess: sandboxRepositoryAccess,
              tenancy: {
                tenants: [{ owner: 'user:default/guest', namespace: TENANT }],
              },
            },
          },
        }),
        catalogServiceMock.factory({
          entities: [
            ...['new-service', 'other-service'].map(name => ({
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Component',
              metadata: { name, namespace: 'default' },
              spec: {
                type: 'service',
                owner: 'user:default/guest',
                lifecycle: 'experimental',
              },
            })),
            {
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Component',
              metadata: { name: 'untenanted', namespace: 'default' },
              spec: {
                type: 'service',
                owner: 'group:default/no-tenant',
                lifecycle: 'experimental',
              },
            },
          ],
        }),
        // Every entity permission is allowed here (the permission matrix is
        // security.integration.test.ts); managing clusters only to the admin.
        mockServices.permissions.mock({
          authorize: async (requests, options) =>
            requests.map(r => ({
              result:
                r.permission.name !== 'gitops.cluster.manage' ||
                (options?.credentials.principal as { userEntityRef?: string })
                  .userEntityRef === 'user:default/admin'
                  ? AuthorizeResult.ALLOW
                  : AuthorizeResult.DENY,
            })),
          authorizeConditional: async requests =>
            requests.map(() => ({ result: AuthorizeResult.ALLOW })),
        }).factory,
      ],
    });
    server = backend.server;
    await eventually('the dev cache to be fresh', async () => {
      const res = await request(server).get('/api/gitops/clusters').set(auth);
      return res.body.items?.some(
        (c: { name: string; health?: { stale?: boolean } }) =>
          c.name === 'dev' && c.health && !c.health.stale,
      );
    });
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it.each([
    [
      'an unknown cluster',
      { clusters: [{ name: 'staging', path: 'deploy/dev' }] },
      /Unknown cluster "staging"/,
    ],
    [
      'a path leaving the repository',
      { clusters: [{ name: 'dev', path: '../other/deploy' }] },
      /clusters\.0\.path: must be a relative path inside the repository/,
    ],
    [
      'an invalid name',
      { name: 'New_Service', clusters: [{ name: 'dev', path: 'deploy/dev' }] },
      /"New_Service" is not a valid Flux object name/,
    ],
    [
      'a repository URL that is none',
      { url: 'not a url', clusters: [{ name: 'dev', path: 'deploy/dev' }] },
      /Invalid delivery repository URL/,
    ],
    [
      'a bad interval',
      { interval: 'soon', clusters: [{ name: 'dev', path: 'deploy/dev' }] },
      /interval: is not a Go duration/,
    ],
  ])(
    'refuses %s with a 400 naming it, writing nothing',
    async (_, body, message) => {
      const res = await bootstrap({ ...body, dryRun: false });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(message);
      expect(dev().get(GIT, TENANT, 'new-service')).toBeUndefined();
      expect(await deployTokens()).toEqual([]);
    },
  );

  it('refuses to take over an object Backstage did not create', async () => {
    const res = await bootstrap(
      {
        name: 'team-delivery',
        privileged: true,
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
      },
      admin,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(
      /GitRepository flux-system\/team-delivery already exists on dev/,
    );
  });

  it('refuses an object Backstage created with no recorded owner (made before owners were recorded)', async () => {
    dev().create({
      apiVersion: GIT.apiVersion,
      kind: GIT.kind,
      metadata: {
        name: 'unrecorded',
        namespace: TENANT,
        labels: { 'app.kubernetes.io/managed-by': 'backstage-gitops' },
      },
      spec: {
        interval: '1h',
        url: projectUrl,
        ref: { branch: 'main' },
        suspend: true,
      },
    });
    await eventually('the cache to have it', async () => {
      const res = await bootstrap({
        name: 'unrecorded',
        credential: false,
        dryRun: true,
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
      });
      return res.status === 409 ? res : undefined;
    }).then(res =>
      expect(res.body.error.message).toMatch(
        /GitRepository team-apps\/unrecorded already exists on dev with no recorded owner/,
      ),
    );
  });

  it.each([
    [
      'a namespace that is not the tenant\u2019s',
      { clusters: [{ name: 'dev', path: 'deploy/dev', namespace: NS }] },
      /Namespace flux-system on cluster dev is not the tenant namespace of component:default\/new-service's owner \(team-apps\)/,
    ],
    [
      'an entity whose owner has no tenant',
      {
        entityRef: 'component:default/untenanted',
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
      },
      /component:default\/untenanted has no tenant on cluster dev: .*\(group:default\/no-tenant\)/,
    ],
    [
      'a privileged bootstrap by someone who may not manage clusters',
      { privileged: true, clusters: [{ name: 'dev', path: 'deploy/dev' }] },
      /gitops\.cluster\.manage/,
    ],
  ])(
    'refuses %s with a 403, dry run or not, writing nothing',
    async (_, body, message) => {
      for (const dryRun of [true, false]) {
        const res = await bootstrap({ ...body, dryRun });
        expect(res.status).toBe(403);
        expect(res.body.error.message).toMatch(message);
      }
      for (const namespace of [NS, TENANT]) {
        expect(dev().get(GIT, namespace, 'new-service')).toBeUndefined();
      }
      expect(await deployTokens()).toEqual([]);
    },
  );

  it('renders and validates on a dry run, writing nothing', async () => {
    const res = await bootstrap({
      clusters: [{ name: 'dev', path: './deploy/dev/' }],
      dryRun: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.dryRun).toBe(true);
    const [source, kustomization] = res.body.clusters[0].manifests;
    expect(source).toMatchObject({
      kind: 'GitRepository',
      metadata: { name: 'new-service', namespace: TENANT },
      spec: {
        url: projectUrl,
        ref: { branch: 'main' },
        secretRef: { name: 'new-service-auth' },
      },
    });
    // Flux's multi-tenancy: applied as the tenant's service account, into its namespace.
    expect(kustomization).toMatchObject({
      kind: 'Kustomization',
      metadata: { name: 'new-service', namespace: TENANT },
      spec: {
        path: './deploy/dev',
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'new-service' },
        serviceAccountName: TENANT,
        targetNamespace: TENANT,
      },
    });
    expect(dev().get(GIT, TENANT, 'new-service')).toBeUndefined();
    expect(dev().get(SECRET, TENANT, 'new-service-auth')).toBeUndefined();
    expect(await deployTokens()).toEqual([]);
    const registered = await registeredRepositories();
    expect(registered.body).toEqual({ items: [], totalItems: 0 });
  });

  it('validates a dry run for an entity the catalog does not have yet, and nothing else', async () => {
    const dryRun = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      owner: 'user:default/guest',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
      dryRun: true,
    });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.clusters[0].manifests[1].spec).toMatchObject({
      serviceAccountName: TENANT,
      targetNamespace: TENANT,
    });
    // Without the owner it will have, it is an entity nobody can see: 404.
    const ownerless = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
      dryRun: true,
    });
    expect(ownerless.status).toBe(404);
    const unknownCluster = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      owner: 'user:default/guest',
      clusters: [{ name: 'staging', path: 'deploy/dev' }],
      dryRun: true,
    });
    expect(unknownCluster.status).toBe(400);
    const real = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      owner: 'user:default/guest',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(real.status).toBe(404);
    expect(dev().get(GIT, TENANT, 'new-service')).toBeUndefined();
  });

  it('undoes everything when the source does not become Ready', async () => {
    const res = await bootstrap({
      ref: 'no-such-branch',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(res.body.error?.message).toMatch(/Rolled back/);
    expect(res.status).toBe(409);
    // Deleted: the source-controller removes its finalizer a moment later.
    await eventually('the new objects to be gone', () => {
      return [GIT, KUSTOMIZATION].every(
        type => !dev().get(type, TENANT, 'new-service'),
      );
    });
    expect(dev().get(SECRET, TENANT, 'new-service-auth')).toBeUndefined();
    expect((await deployTokens()).filter(token => !token.revoked)).toEqual([]);
    const registered = await registeredRepositories();
    expect(registered.body.items).toEqual([]);
  });

  it('wires the repository on dev: source and Kustomization Ready with a read-only deploy token, then its Receiver', async () => {
    const res = await bootstrap({
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(res.status).toBe(201);
    expect(res.body.clusters).toEqual([
      expect.objectContaining({
        name: 'dev',
        ready: [{ name: 'new-service', status: 'True' }],
      }),
    ]);
    expect(res.body.token).toMatchObject({
      kind: 'deploy-token',
      name: 'backstage-gitops-new-service',
      scopes: ['read_repository'],
    });

    const active = (await deployTokens()).filter(token => !token.revoked);
    expect(active).toEqual([
      expect.objectContaining({
        name: 'backstage-gitops-new-service',
        scopes: ['read_repository'],
      }),
    ]);
    const secret = dev().get(SECRET, TENANT, 'new-service-auth') as {
      data?: Record<string, string>;
    };
    expect(Object.keys(secret.data ?? {}).sort()).toEqual([
      'password',
      'username',
    ]);
    // The token's value is in the Secret, and nowhere in the answer.
    const value = Buffer.from(secret.data!.password, 'base64').toString();
    expect(value.length).toBeGreaterThan(10);
    expect(JSON.stringify(res.body)).not.toContain(value);
    expect(dev().get(KUSTOMIZATION, TENANT, 'new-service')).toBeDefined();
    // Applied by the tenant into its namespace, whatever namespace the file named.
    const configMap = (namespace: string) =>
      world
        .cluster('dev')
        .api.store.get(
          { apiVersion: 'v1', kind: 'ConfigMap' },
          namespace,
          'new-service',
        );
    expect(configMap(TENANT)).toMatchObject({ data: { greeting: 'hello' } });
    expect(configMap('default')).toBeUndefined();
    expect(
      world.cluster('prod').api.store.get(GIT, TENANT, 'new-service'),
    ).toBe(undefined);

    const registered = await registeredRepositories();
    expect(registered.body.items).toEqual([
      expect.objectContaining({
        url: projectUrl,
        ref: 'main',
        clusters: ['dev'],
        origin: 'api',
      }),
    ]);

    await eventually('the managed Receiver of the new source', async () => {
      await scheduler.triggerTask('gitops-receivers');
      return !!dev().get(
        {
          apiVersion: 'notification.toolkit.fluxcd.io/v1',
          kind: 'Receiver',
        },
        TENANT,
        'gitops-git-new-service',
      );
    });

    // Asked again, as a retried scaffolder task would: the same objects, no new token.
    const again = await bootstrap({
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(again.body.error).toBeUndefined();
    expect(again.status).toBe(201);
    expect(again.body.token).toBeUndefined();
    expect((await deployTokens()).filter(token => !token.revoked)).toEqual([
      expect.objectContaining({ name: 'backstage-gitops-new-service' }),
    ]);

    // The objects are new-service's: another entity of the same team gets a 409, dry
    // run or not, and nothing of new-service's changes.
    for (const dryRun of [true, false]) {
      const taken = await bootstrap({
        entityRef: 'component:default/other-service',
        name: 'new-service',
        interval: '1m',
        dryRun,
        clusters: [{ name: 'dev', path: 'deploy/dev' }],
      });
      expect(taken.status).toBe(409);
      expect(taken.body.error.message).toMatch(
        /GitRepository team-apps\/new-service on dev belongs to component:default\/new-service/,
      );
    }
    expect(dev().get(GIT, TENANT, 'new-service')).toMatchObject({
      spec: { interval: '10m' },
    });
  });

  it('applies as the tenant: a repository that grants itself cluster-admin fails with Flux\u2019s forbidden error', async () => {
    const res = await bootstrap({
      name: 'escalate',
      clusters: [{ name: 'dev', path: 'deploy/escalate' }],
    });
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(201);
    expect(res.body.clusters[0].ready).toEqual([
      expect.objectContaining({
        name: 'escalate',
        status: 'False',
        message: expect.stringMatching(
          /clusterrolebindings.* is forbidden: User "system:serviceaccount:team-apps:team-apps"/,
        ),
      }),
    ]);
    expect(
      world.cluster('dev').api.store.get(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
        },
        '',
        'tenant-escalates',
      ),
    ).toBeUndefined();
  });

  it('wires an OCI artifact with a read_registry deploy token in a docker-config Secret', async () => {
    const res = await bootstrap({
      url: world.demo.ociUrl,
      name: 'storefront-copy',
      insecure: true,
      clusters: [{ name: 'dev', path: '.' }],
    });
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(201);
    expect(res.body.clusters[0].manifests[0]).toMatchObject({
      kind: 'OCIRepository',
      spec: {
        url: world.demo.ociUrl,
        ref: { tag: 'latest' },
        insecure: true,
        secretRef: { name: 'storefront-copy-auth' },
      },
    });
    expect(res.body.clusters[0].ready).toEqual([
      { name: 'storefront-copy', status: 'True' },
    ]);
    expect(res.body.token).toMatchObject({
      kind: 'deploy-token',
      owner: { type: 'project', path: 'team/delivery' },
      scopes: ['read_registry'],
    });
    const secret = dev().get(SECRET, TENANT, 'storefront-copy-auth') as {
      type?: string;
      data?: Record<string, string>;
    };
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(
      Buffer.from(secret.data!['.dockerconfigjson'], 'base64').toString(),
    );
    expect(Object.keys(config.auths)).toEqual([
      new URL(world.demo.ociUrl.replace('oci://', 'http://')).host,
    ]);
  });
});
