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
} from './__testUtils__/sandboxConfig';
import { gitopsPlugin } from './plugin';

jest.setTimeout(120_000);

const NS = 'flux-system';
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
  const bootstrap = (body: Record<string, unknown>) =>
    request(server)
      .post('/api/gitops/flux/bootstrap')
      .set(auth)
      .send({ entityRef: ENTITY_REF, url: projectUrl, ...body });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-bootstrap-'));
    world = await startWorld({ dataDir, sourceInterval: '1h' });
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
            },
          },
        }),
        catalogServiceMock.factory({
          entities: [
            {
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Component',
              metadata: { name: 'new-service', namespace: 'default' },
              spec: {
                type: 'service',
                owner: 'user:default/guest',
                lifecycle: 'experimental',
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
      expect(dev().get(GIT, NS, 'new-service')).toBeUndefined();
      expect(await deployTokens()).toEqual([]);
    },
  );

  it('refuses to take over an object Backstage did not create', async () => {
    const res = await bootstrap({
      name: 'team-delivery',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(
      /GitRepository flux-system\/team-delivery already exists on dev/,
    );
  });

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
      metadata: { name: 'new-service', namespace: NS },
      spec: {
        url: projectUrl,
        ref: { branch: 'main' },
        secretRef: { name: 'new-service-auth' },
      },
    });
    expect(kustomization).toMatchObject({
      kind: 'Kustomization',
      spec: {
        path: './deploy/dev',
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'new-service' },
      },
    });
    expect(dev().get(GIT, NS, 'new-service')).toBeUndefined();
    expect(dev().get(SECRET, NS, 'new-service-auth')).toBeUndefined();
    expect(await deployTokens()).toEqual([]);
    const registered = await registeredRepositories();
    expect(registered.body).toEqual({ items: [] });
  });

  it('validates a dry run for an entity the catalog does not have yet, and nothing else', async () => {
    const dryRun = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
      dryRun: true,
    });
    expect(dryRun.status).toBe(200);
    const unknownCluster = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      clusters: [{ name: 'staging', path: 'deploy/dev' }],
      dryRun: true,
    });
    expect(unknownCluster.status).toBe(400);
    const real = await bootstrap({
      entityRef: 'component:default/not-yet-registered',
      clusters: [{ name: 'dev', path: 'deploy/dev' }],
    });
    expect(real.status).toBe(404);
    expect(dev().get(GIT, NS, 'new-service')).toBeUndefined();
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
        type => !dev().get(type, NS, 'new-service'),
      );
    });
    expect(dev().get(SECRET, NS, 'new-service-auth')).toBeUndefined();
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
    const secret = dev().get(SECRET, NS, 'new-service-auth') as {
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
    expect(dev().get(KUSTOMIZATION, NS, 'new-service')).toBeDefined();
    expect(
      world
        .cluster('dev')
        .api.store.get(
          { apiVersion: 'v1', kind: 'ConfigMap' },
          'default',
          'new-service',
        ),
    ).toMatchObject({ data: { greeting: 'hello' } });
    expect(world.cluster('prod').api.store.get(GIT, NS, 'new-service')).toBe(
      undefined,
    );

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
        NS,
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
    const secret = dev().get(SECRET, NS, 'storefront-copy-auth') as {
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
