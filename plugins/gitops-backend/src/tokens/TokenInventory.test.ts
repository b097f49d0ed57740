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
import { DatabaseTokenStore } from '../database/DatabaseTokenStore';
import { tokenFindings } from './findings';
import { TokenInventory } from './TokenInventory';

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
    const inventory = new TokenInventory({
      cache,
      objectApi: name =>
        KubernetesObjectApi.makeApiClient(kubeConfigFor(clusters.get(name)!)),
      integrations: ScmIntegrations.fromConfig(
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
});
