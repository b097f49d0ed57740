import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { startKubeApiServer } from '@backstage-gitops/sandbox';
import { CoreV1Api } from '@kubernetes/client-node';
import { Knex } from 'knex';
import { ClusterRegistration, DefaultClusterRegistry } from './ClusterRegistry';
import { kubeConfigFor } from './kubeConfig';
import { GitOpsCluster } from './types';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
const SECRET = 'an-encryption-secret-of-32-chars!';
const migrationsDir = resolvePackagePath(
  '@backstage-gitops/plugin-gitops-backend',
  'migrations',
);

const kubernetesConfig = {
  clusterLocatorMethods: [
    {
      type: 'config',
      clusters: [
        {
          name: 'dev',
          url: 'https://dev.example.com',
          authProvider: 'serviceAccount',
          serviceAccountToken: 'dev-config-token',
        },
      ],
    },
    { type: 'catalog' },
  ],
};

const catalogCluster = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Resource',
  metadata: {
    name: 'edge',
    namespace: 'default',
    annotations: {
      'kubernetes.io/api-server': 'https://203.0.113.20',
      'kubernetes.io/api-server-certificate-authority': 'Q0E=',
      'kubernetes.io/auth-provider': 'serviceAccount',
    },
  },
  spec: { type: 'kubernetes-cluster', owner: 'platform' },
};

async function createRegistry(
  knex: Knex,
  gitops: Record<string, unknown> = { encryptionSecret: SECRET },
) {
  return DefaultClusterRegistry.create({
    config: new ConfigReader({
      kubernetes: kubernetesConfig,
      gitops: {
        clusters: [{ name: 'edge', serviceAccountToken: 'edge-token' }],
        ...gitops,
      },
    }),
    logger: mockServices.logger.mock(),
    database: mockServices.database.mock({ getClient: async () => knex }),
    catalog: catalogServiceMock({ entities: [catalogCluster] }),
    auth: mockServices.auth(),
  });
}

describe.each(databases.eachSupportedId())(
  'ClusterRegistry on %p',
  databaseId => {
    it('merges config, catalog and API clusters and stores the token only encrypted', async () => {
      const knex = await databases.init(databaseId);
      const registry = await createRegistry(knex);
      const changes: string[][] = [];
      registry.onChange(clusters => changes.push(clusters.map(c => c.name)));

      expect(
        registry.list().map(c => [c.name, c.source, c.auth.token]),
      ).toEqual([
        ['dev', 'config', 'dev-config-token'],
        ['edge', 'catalog', 'edge-token'],
      ]);

      const registered = await registry.register(
        {
          name: 'lab',
          url: 'https://lab.example.com',
          token: 'lab-secret-token',
          fluxNamespace: 'flux',
        },
        { createdBy: 'user:default/admin' },
      );
      expect(registered).toMatchObject({
        name: 'lab',
        source: 'api',
        auth: { type: 'serviceAccount', token: 'lab-secret-token' },
        settings: { fluxNamespace: 'flux', trustedServiceProxyPaths: [] },
      });
      expect(changes).toEqual([['dev', 'lab', 'edge']]);

      const rows = await knex('gitops_clusters').select();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain('lab-secret-token');
      expect(rows[0].created_by).toBe('user:default/admin');

      // A second instance with the same key reads it back.
      const other = await createRegistry(knex);
      expect(other.get('lab')?.auth.token).toBe('lab-secret-token');
      // With another key, the cluster is skipped rather than served with garbage.
      const wrongKey = await createRegistry(knex, {
        encryptionSecret: 'a-different-secret-of-32-chars!!',
      });
      expect(wrongKey.get('lab')).toBeUndefined();

      await expect(
        registry.register({
          name: 'dev',
          url: 'https://x.example.com',
          token: 't',
        }),
      ).rejects.toMatchObject({
        name: 'ConflictError',
        message: expect.stringContaining('config'),
      });
      await expect(
        registry.register({
          name: 'lab',
          url: 'https://x.example.com',
          token: 't',
        }),
      ).rejects.toMatchObject({ name: 'ConflictError' });
      await expect(
        registry.register({
          name: 'lab2',
          url: 'https://x.example.com',
          token: 't',
          receiverUrl:
            '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy',
        }),
      ).rejects.toMatchObject({ name: 'InputError' });

      await expect(registry.remove('dev')).rejects.toMatchObject({
        name: 'ConflictError',
      });
      await expect(registry.remove('nope')).rejects.toMatchObject({
        name: 'NotFoundError',
      });
      await registry.remove('lab');
      expect(registry.get('lab')).toBeUndefined();
      expect(await knex('gitops_clusters').select()).toEqual([]);
      expect(changes).toHaveLength(2);
    });

    it('refuses loopback and link-local URLs at runtime registration, naming the key, writing nothing', async () => {
      const knex = await databases.init(databaseId);
      const registry = await createRegistry(knex);
      const cases: Array<[Partial<ClusterRegistration>, RegExp]> = [
        [
          { url: 'https://127.0.0.1:6443' },
          /^Invalid url: host "127\.0\.0\.1"/,
        ],
        [{ url: 'https://localhost:6443' }, /^Invalid url: host "localhost"/],
        [{ url: 'https://[::1]:6443' }, /^Invalid url: host "::1"/],
        [
          { url: 'http://169.254.169.254/latest' },
          /^Invalid url: .*link-local.*dangerouslyAllowHosts/,
        ],
        [
          { receiverUrl: 'http://169.254.169.254/' },
          /^Invalid receiverUrl: host "169\.254\.169\.254"/,
        ],
        [{ receiverUrl: 'http://[fe80::1]/' }, /^Invalid receiverUrl/],
      ];
      for (const [change, message] of cases) {
        await expect(
          registry.register({
            name: 'lab',
            url: 'https://10.0.0.1:6443',
            token: 't',
            ...change,
          }),
        ).rejects.toMatchObject({
          name: 'InputError',
          message: expect.stringMatching(message),
        });
      }
      expect(await knex('gitops_clusters').select()).toEqual([]);

      // Private (not loopback) addresses are how clusters are usually reached: accepted.
      await registry.register({
        name: 'lab',
        url: 'https://10.0.0.1:6443',
        token: 't',
        receiverUrl: 'http://10.0.0.2',
      });
      // And a listed host, for a local test cluster.
      const allowing = await createRegistry(knex, {
        encryptionSecret: SECRET,
        registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
      });
      await allowing.register({
        name: 'local',
        url: 'https://127.0.0.1:6443',
        token: 't',
      });
      expect(allowing.get('local')?.url).toBe('https://127.0.0.1:6443');
    });

    it('refuses runtime registration without gitops.encryptionSecret', async () => {
      const knex = await databases.init(databaseId);
      const registry = await createRegistry(knex, {});
      await expect(
        registry.register({
          name: 'lab',
          url: 'https://lab.example.com',
          token: 't',
        }),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: expect.stringContaining('gitops.encryptionSecret'),
      });
    });

    it('migrates up and down', async () => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest({ directory: migrationsDir });
      expect(await knex.schema.hasTable('gitops_clusters')).toBe(true);
      await knex.migrate.down({
        directory: migrationsDir,
        name: '20261125010000_clusters.js',
      });
      expect(await knex.schema.hasTable('gitops_clusters')).toBe(false);
      expect(await knex.schema.hasTable('gitops_delivery_repositories')).toBe(
        true,
      );
      await knex.migrate.up({ directory: migrationsDir });
      expect(await knex.schema.hasTable('gitops_clusters')).toBe(true);
    });
  },
);

it('binds catalog clusters to their gitops.clusters entry by full entity ref', async () => {
  const resource = (namespace: string, name: string, server: string) => ({
    ...catalogCluster,
    metadata: {
      ...catalogCluster.metadata,
      name,
      namespace,
      annotations: {
        ...catalogCluster.metadata.annotations,
        'kubernetes.io/api-server': server,
      },
    },
  });
  const logger = mockServices.logger.mock();
  const knex = await databases.init('SQLITE_3');
  const registry = await DefaultClusterRegistry.create({
    config: new ConfigReader({
      kubernetes: { clusterLocatorMethods: [{ type: 'catalog' }] },
      gitops: {
        clusters: [
          { name: 'edge', serviceAccountToken: 'edge-token' },
          {
            name: 'prod',
            entityRef: 'resource:platform/prod-cluster',
            serviceAccountToken: 'prod-token',
          },
        ],
      },
    }),
    logger,
    database: mockServices.database.mock({ getClient: async () => knex }),
    catalog: catalogServiceMock({
      entities: [
        // Same names in another namespace, listed first: they get no token.
        resource('attacker', 'edge', 'https://203.0.113.66'),
        resource('attacker', 'prod-cluster', 'https://203.0.113.67'),
        resource('default', 'prod', 'https://203.0.113.68'),
        resource('default', 'edge', 'https://203.0.113.20'),
        resource('platform', 'prod-cluster', 'https://203.0.113.30'),
      ],
    }),
    auth: mockServices.auth(),
  });
  expect(registry.list().map(c => [c.name, c.url, c.auth.token])).toEqual([
    ['edge', 'https://203.0.113.20', 'edge-token'],
    ['prod', 'https://203.0.113.30', 'prod-token'],
  ]);
  expect(registry.get('edge')?.connect?.api).toMatchObject({
    refuse: 'non-public',
  });
  for (const ref of [
    'resource:attacker/edge',
    'resource:attacker/prod-cluster',
    'resource:default/prod',
  ]) {
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining(
        `skips catalog cluster ${ref}: no gitops.clusters entry`,
      ),
    );
  }
});

it('a registered cluster is reachable over TLS through kubeConfigFor', async () => {
  const server = await startKubeApiServer({
    tls: true,
    tokens: {
      'lab-secret-token': {
        user: 'backstage',
        rules: [
          { verbs: ['list'], apiGroups: [''], resources: ['namespaces'] },
        ],
      },
    },
  });
  try {
    const knex = await databases.init('SQLITE_3');
    // The sandbox listens on loopback, which registration refuses unless allowed.
    const registry = await createRegistry(knex, {
      encryptionSecret: SECRET,
      registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
    });
    await registry.register({
      name: 'lab',
      url: server.url,
      token: 'lab-secret-token',
      caData: server.caData,
    });
    const cluster = (
      await createRegistry(knex, {
        encryptionSecret: SECRET,
        registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
      })
    ).get('lab') as GitOpsCluster;
    const namespaces = await kubeConfigFor(cluster)
      .makeApiClient(CoreV1Api)
      .listNamespace();
    expect(namespaces.items.map(ns => ns.metadata?.name)).toEqual(
      expect.arrayContaining(['default']),
    );

    // The address check holds when connecting, not only at registration: once the
    // allowance is gone from the configuration, the stored cluster is not connected to.
    const served = server.requestsBy('backstage');
    const unallowed = (await createRegistry(knex)).get('lab') as GitOpsCluster;
    await expect(
      kubeConfigFor(unallowed).makeApiClient(CoreV1Api).listNamespace(),
    ).rejects.toThrow(/loopback or link-local.*dangerouslyAllowHosts/);
    // A host name is checked on what it resolves to when connecting (DNS rebinding).
    const renamed = {
      ...unallowed,
      url: server.url.replace('127.0.0.1', 'localhost'),
    };
    await expect(
      kubeConfigFor(renamed).makeApiClient(CoreV1Api).listNamespace(),
    ).rejects.toThrow(/"localhost" resolves to a loopback/);
    expect(server.requestsBy('backstage')).toBe(served);
  } finally {
    await server.stop();
  }
});
