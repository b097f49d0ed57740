import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { ScmIntegrations } from '@backstage/integration';
import {
  DeliveryRepository,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../__testUtils__/eventually';
import { FluxCache } from '../cache/FluxCache';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { GitOpsCluster } from '../clusters/types';
import { DatabaseLockStore } from '../database/DatabaseLockStore';
import { DatabaseTokenStore } from '../database/DatabaseTokenStore';
import { FluxActions } from '../actions/FluxActions';
import { tokenFindings } from './findings';
import { GitLabCredentialIssuer } from './GitLabCredentialIssuer';
import { GitLabCredentialLookup } from './GitLabCredentialLookup';
import { SecretWriter } from './secretWriter';
import { TokenInventory } from './TokenInventory';
import { RotationSettings, TokenRotator } from './TokenRotator';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const CLUSTERS = ['dev', 'prod'];

/**
 * The inventory of the demo world's credentials, identified on the sandbox GitLab: the
 * read-only deploy token of both clusters, the commit-status project access token, and
 * the over-privileged personal access token planted on prod's registry Secret.
 */
describe('TokenInventory on the demo world', () => {
  let dataDir: string;
  let world: SandboxWorld;
  let cache: FluxCache;
  let store: DatabaseTokenStore;
  let knex: Awaited<ReturnType<typeof databases.init>>;
  let rotator: TokenRotator;
  let makeRotator: (settings: RotationSettings) => TokenRotator;
  let inventory: TokenInventory;
  const logger = mockServices.logger.mock();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-tokens-'));
    world = await startWorld({ dataDir, clusters: CLUSTERS });
    const clusters = new Map<string, GitOpsCluster>(
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
          settings: {
            fluxNamespace: 'flux-system',
            trustedServiceProxyPaths: [],
          },
        },
      ]),
    );
    cache = FluxCache.create({
      logger: mockServices.logger.mock(),
      clusters: [...clusters.values()],
      backoff: { initialMs: 100, maxMs: 500 },
    });
    cache.start();
    knex = await databases.init('SQLITE_3');
    store = await DatabaseTokenStore.create({
      database: mockServices.database.mock({ getClient: async () => knex }),
    });
    await eventually('both caches in sync', () =>
      CLUSTERS.every(name => !cache.isStale(name)),
    );

    const deliveries: DeliveryRepository[] = [
      {
        url: world.demo.project.httpUrl,
        entityRef: 'component:default/podinfo',
      },
      { url: world.demo.ociUrl, entityRef: 'component:default/storefront' },
    ].map((d, i) => ({
      id: String(i),
      ...d,
      kind: parseRepositoryUrl(d.url).kind,
      origin: 'annotation',
      createdAt: '',
      updatedAt: '',
    }));
    const objectApi = (name: string) =>
      KubernetesObjectApi.makeApiClient(kubeConfigFor(clusters.get(name)!));
    const integrations = ScmIntegrations.fromConfig(
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
    );
    inventory = new TokenInventory({
      cache,
      objectApi,
      integrations,
      deliveries: {
        list: async filter =>
          deliveries.filter(
            d => parseRepositoryUrl(d.url).normalized === filter?.normalizedUrl,
          ),
      },
      store,
      logger,
    });
    await inventory.run();
    const locks = await DatabaseLockStore.create({
      database: mockServices.database.mock({ getClient: async () => knex }),
    });
    makeRotator = settings =>
      new TokenRotator({
        store,
        inventory,
        cache,
        issuer: new GitLabCredentialIssuer(integrations),
        lookup: () => new GitLabCredentialLookup(integrations),
        secrets: new SecretWriter(objectApi),
        actionsFor: name =>
          new FluxActions({
            kubeConfig: kubeConfigFor(clusters.get(name)!),
            versionOf: group => cache.versionOf(name, group) ?? 'v1',
            pollIntervalMs: 100,
          }),
        settings,
        locks,
        logger,
      });
    rotator = makeRotator({ lifetimeDays: 30, readyTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    await cache?.stop();
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const byName = async (name: string) =>
    (await store.list()).find(token => token.name === name);
  const where = (token: {
    usages: Array<{ cluster: string; secret: string; purpose: string }>;
  }) => token.usages.map(u => `${u.cluster}/${u.secret} (${u.purpose})`).sort();

  it('lists the demo credentials with their kinds, scopes and uses', async () => {
    const tokens = await store.list();
    expect(tokens.map(t => `${t.kind} ${t.name}`).sort()).toEqual([
      'deploy-token flux-read',
      'personal-access-token flux-prod-pull',
      'project-access-token flux-commit-status',
    ]);

    const deployToken = (await byName('flux-read'))!;
    expect(deployToken).toMatchObject({
      username: world.demo.tokens.deployToken.username,
      scopes: ['read_repository', 'read_registry'],
      projects: ['team/delivery'],
      entityRefs: ['component:default/podinfo', 'component:default/storefront'],
    });
    expect(where(deployToken)).toEqual([
      'dev/team-delivery-auth (read)',
      'dev/team-registry-auth (read)',
      'prod/team-delivery-auth (read)',
    ]);

    const pat = (await byName('flux-prod-pull'))!;
    expect(pat).toMatchObject({ scopes: ['api'], username: 'ci-bot' });
    expect(where(pat)).toEqual(['prod/team-registry-auth (read)']);

    const commitStatus = (await byName('flux-commit-status'))!;
    expect(commitStatus.scopes).toEqual(['api']);
    expect(where(commitStatus)).toEqual([
      'dev/gitlab-commit-status (commit-status)',
      'prod/gitlab-commit-status (commit-status)',
    ]);
  });

  it('flags the over-privileged personal access token, and not the others', async () => {
    const tokens = await store.list();
    const findings = tokenFindings(tokens, {
      now: new Date(),
      expiringWithinDays: 0,
    });
    const pat = (await byName('flux-prod-pull'))!;
    expect(
      findings.map(
        f => `${tokens.find(t => t.id === f.tokenId)!.name}: ${f.type}`,
      ),
    ).toEqual(['flux-prod-pull: api-scope', 'flux-prod-pull: personal-token']);
    const apiScope = findings.find(
      f => f.tokenId === pat.id && f.type === 'api-scope',
    )!;
    expect(apiScope.severity).toBe('critical');
    expect(apiScope.recommendation).toMatch(
      /deploy token with read_repository\/read_registry/,
    );
    // The backend does not rotate a person's token: it creates a deploy token instead.
    await expect(rotator.rotate(pat.id, { actor: 'test' })).rejects.toThrow(
      /"flux-prod-pull" is a personal access token/,
    );
  });

  it('keeps no credential value: not in the database, not in the logs', async () => {
    const canaries = [
      world.demo.tokens.deployToken.token,
      world.demo.tokens.overPrivilegedToken.token,
      world.demo.tokens.commitStatusToken,
    ];
    const rows = JSON.stringify(await knex('gitops_tokens').select());
    const logs = JSON.stringify(
      [logger.info, logger.warn, logger.error, logger.debug].flatMap(
        fn => (fn as jest.Mock).mock.calls,
      ),
    );
    for (const canary of canaries) {
      expect(rows).not.toContain(canary);
      expect(logs).not.toContain(canary);
    }
    expect(rows).toContain('sha256:');
  });

  const SECRET = { apiVersion: 'v1', kind: 'Secret' };
  const secretData = (cluster: string, name: string) =>
    (world.cluster(cluster).api.store.get(SECRET, 'flux-system', name) as any)
      ?.data as Record<string, string>;
  const decoded = (cluster: string, name: string, key: string) =>
    Buffer.from(secretData(cluster, name)[key], 'base64').toString('utf8');
  const gitlabGet = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${world.gitlab.url}/api/v4${path}`, {
      headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin },
    });
    expect(res.ok).toBe(true);
    return res.json() as Promise<T>;
  };
  /** Whether Git over HTTP takes the credential (what Flux's source-controller does). */
  const gitAccepts = async (username: string, password: string) =>
    (
      await fetch(
        `${world.demo.project.httpUrl}/info/refs?service=git-upload-pack`,
        {
          headers: {
            Authorization: `Basic ${Buffer.from(
              `${username}:${password}`,
            ).toString('base64')}`,
          },
        },
      )
    ).status === 200;
  const readyOn = (cluster: string, kind: string, name: string) => {
    const object = world.cluster(cluster).api.store.get(
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind,
      },
      'flux-system',
      name,
    ) as any;
    return object?.status?.conditions?.find((c: any) => c.type === 'Ready')
      ?.status;
  };

  it('rolls a failed rotation back: old Secret content, old credential kept, new one revoked', async () => {
    const old = (await byName('flux-read'))!;
    const before = secretData('dev', 'team-delivery-auth');
    // Git over HTTP fails for a while: the sources cannot become Ready with anything.
    world.gitlab.api.failNext(100_000, 503, { scope: 'git' });
    try {
      await expect(rotator.rotate(old.id, { actor: 'test' })).rejects.toThrow(
        /Rolled back, the old credential is kept/,
      );
    } finally {
      world.gitlab.api.failNext(0, 503, { scope: 'git' });
    }
    expect(secretData('dev', 'team-delivery-auth')).toEqual(before);
    expect(decoded('prod', 'team-delivery-auth', 'password')).toBe(
      world.demo.tokens.deployToken.token,
    );
    const deployTokens = await gitlabGet<
      Array<{ id: number; name: string; revoked: boolean }>
    >('/projects/team%2Fdelivery/deploy_tokens');
    expect(
      deployTokens
        .filter(t => t.name === 'flux-read' && !t.revoked)
        .map(t => String(t.id)),
    ).toEqual([old.hostId]);
    expect(
      await gitAccepts(
        world.demo.tokens.deployToken.username,
        world.demo.tokens.deployToken.token,
      ),
    ).toBe(true);
    expect((await store.get(old.id))?.lastRotatedAt).toBeUndefined();
  });

  it('rotates the deploy token: sources Ready with the new one, the old one revoked', async () => {
    const old = (await byName('flux-read'))!;
    const rotated = await rotator.rotate(old.id, { actor: 'test' });
    expect(rotated).toMatchObject({
      kind: 'deploy-token',
      name: 'flux-read',
      scopes: ['read_repository', 'read_registry'],
      lastRotatedAt: expect.any(String),
    });
    expect(rotated.id).not.toBe(old.id);
    expect(where(rotated)).toEqual(where(old));
    expect(await store.get(old.id)).toBeUndefined();

    const username = decoded('dev', 'team-delivery-auth', 'username');
    const password = decoded('dev', 'team-delivery-auth', 'password');
    expect(username).toBe(rotated.username);
    expect(decoded('prod', 'team-delivery-auth', 'password')).toBe(password);
    const registryAuth = JSON.parse(
      decoded('dev', 'team-registry-auth', '.dockerconfigjson'),
    );
    expect(Object.values<any>(registryAuth.auths)[0].password).toBe(password);

    expect(await gitAccepts(username, password)).toBe(true);
    expect(
      await gitAccepts(
        world.demo.tokens.deployToken.username,
        world.demo.tokens.deployToken.token,
      ),
    ).toBe(false);
    for (const cluster of CLUSTERS) {
      expect(readyOn(cluster, 'GitRepository', 'team-delivery')).toBe('True');
    }
    expect(readyOn('dev', 'OCIRepository', 'storefront')).toBe('True');

    const rows = JSON.stringify(await knex('gitops_tokens').select());
    const logs = JSON.stringify(
      [logger.info, logger.warn, logger.error].flatMap(
        fn => (fn as jest.Mock).mock.calls,
      ),
    );
    expect(rows).not.toContain(password);
    expect(logs).not.toContain(password);
  });

  it('replaces the over-privileged token with a read-only deploy token for the registry', async () => {
    const created = await rotator.create(
      { repository: world.demo.ociUrl, purpose: 'read' },
      { actor: 'test' },
    );
    expect(created).toMatchObject({
      kind: 'deploy-token',
      scopes: ['read_registry'],
    });
    expect(where(created)).toEqual([
      'dev/team-registry-auth (read)',
      'prod/team-registry-auth (read)',
    ]);
    expect(readyOn('prod', 'OCIRepository', 'storefront')).toBe('True');
    // The personal access token is no longer used by Flux, so the report is clean of it.
    const names = (await store.list()).map(t => t.name);
    expect(names).not.toContain('flux-prod-pull');
    expect(
      tokenFindings(await store.list(), {
        now: new Date(),
        expiringWithinDays: 0,
      }),
    ).toEqual([]);
  });

  it('rotates on schedule the credentials that expire soon, and only those', async () => {
    const before = await store.list();
    // The backend's own credentials expire in 30 days (lifetimeDays above).
    const due = before.filter(
      t =>
        t.expiresAt && Date.parse(t.expiresAt) - Date.now() < 31 * 86_400_000,
    );
    expect(due.map(t => t.name).sort()).toEqual([
      'backstage-gitops-read',
      'flux-read',
    ]);
    await makeRotator({
      lifetimeDays: 30,
      readyTimeoutMs: 5_000,
      schedule: { beforeExpiryDays: 31 },
    }).rotateDue();
    const after = await store.list();
    for (const token of due) {
      expect(after.find(t => t.id === token.id)).toBeUndefined();
      expect(
        after.find(t => t.name === token.name)?.lastRotatedAt,
      ).toBeDefined();
    }
    const untouched = before.filter(t => !due.includes(t)).map(t => t.id);
    expect(after.map(t => t.id)).toEqual(expect.arrayContaining(untouched));
  });

  it('answers a clear error for an unknown token and a bad repository URL', async () => {
    await expect(
      rotator.rotate('0'.repeat(20), { actor: 'test' }),
    ).rejects.toThrow(/No token 0+ in the inventory/);
    await expect(
      rotator.create(
        { repository: 'not a url', purpose: 'read' },
        { actor: 'test' },
      ),
    ).rejects.toThrow(/Invalid delivery repository URL/);
  });

  it('reports a Secret in a namespace the backend may not read, once, and goes on', async () => {
    // team-a has Flux sources but no RoleBinding for the backend (deploy/kubernetes/rbac.yaml).
    const dev = world.cluster('dev').api.store;
    dev.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team-a' },
    });
    dev.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'apps-auth', namespace: 'team-a' },
      data: { password: Buffer.from('team-a-password').toString('base64') },
    });
    dev.create({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'apps', namespace: 'team-a' },
      spec: {
        interval: '1h',
        url: world.demo.project.httpUrl,
        ref: { branch: 'main' },
        secretRef: { name: 'apps-auth' },
      },
    });
    await eventually('the cache to see team-a/apps', () =>
      cache.get('dev', 'GitRepository', 'team-a', 'apps'),
    );
    const before = (await store.list()).map(token => token.id).sort();
    logger.warn.mockClear();

    await inventory.run();
    expect(await store.listUnreadable()).toEqual([
      {
        cluster: 'dev',
        namespace: 'team-a',
        secret: 'apps-auth',
        usedBy: [{ kind: 'GitRepository', name: 'apps' }],
        reason: expect.stringMatching(
          /^forbidden: .* namespace team-a; bind the ClusterRole backstage-gitops-flux-namespace there/,
        ),
        lastSeenAt: expect.any(String),
      },
    ]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(
      /Cannot read Secret team-a\/apps-auth on dev \(used by GitRepository apps\): forbidden/,
    );
    // The readable namespaces are inventoried as before.
    expect((await store.list()).map(token => token.id).sort()).toEqual(before);

    // The next round reports it again, without logging it again.
    await inventory.run();
    expect(await store.listUnreadable()).toHaveLength(1);
    expect(logger.warn).toHaveBeenCalledTimes(1);

    // Once the source is gone, so is the report.
    dev.delete(
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository' },
      'team-a',
      'apps',
    );
    await eventually(
      'the cache to drop team-a/apps',
      () => !cache.get('dev', 'GitRepository', 'team-a', 'apps'),
    );
    await inventory.run();
    expect(await store.listUnreadable()).toEqual([]);
  });
});
