import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { DatabaseDeliveryRepositoryStore } from './DatabaseDeliveryRepositoryStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

async function createStore(databaseId: Parameters<typeof databases.init>[0]) {
  const knex = await databases.init(databaseId);
  const database = mockServices.database.mock({ getClient: async () => knex });
  return {
    knex,
    store: await DatabaseDeliveryRepositoryStore.create({ database }),
  };
}

describe.each(databases.eachSupportedId())(
  'DatabaseDeliveryRepositoryStore on %p',
  databaseId => {
    it('registers, finds by normalized URL and deletes', async () => {
      const { store } = await createStore(databaseId);
      const created = await store.upsert({
        entityRef: 'component:default/podinfo',
        url: 'https://GitLab.example.com/team/delivery.git',
        path: './apps/podinfo/',
        clusters: ['prod', 'dev'],
        origin: 'api',
      });
      expect(created).toMatchObject({
        entityRef: 'component:default/podinfo',
        kind: 'git',
        path: 'apps/podinfo',
        clusters: ['dev', 'prod'],
        origin: 'api',
      });

      const bySsh = await store.list({
        normalizedUrl: 'git:gitlab.example.com/team/delivery',
      });
      expect(bySsh.map(r => r.id)).toEqual([created.id]);
      expect(await store.get(created.id)).toEqual(created);

      expect(await store.delete(created.id)).toBe(true);
      expect(await store.delete(created.id)).toBe(false);
      expect(await store.list()).toEqual([]);
    });

    it('updates the same entity, repository and path instead of duplicating', async () => {
      const { store } = await createStore(databaseId);
      const first = await store.upsert({
        entityRef: 'component:default/podinfo',
        url: 'https://gitlab.example.com/team/delivery',
        origin: 'api',
      });
      const second = await store.upsert({
        entityRef: 'component:default/podinfo',
        url: 'ssh://git@gitlab.example.com/team/delivery.git',
        ref: 'main',
        origin: 'api',
      });
      expect(second.id).toBe(first.id);
      expect(second.ref).toBe('main');
      expect(second.url).toBe('ssh://git@gitlab.example.com/team/delivery.git');
      expect(await store.list()).toHaveLength(1);
    });

    it('rejects invalid URLs and escaping paths without writing', async () => {
      const { store } = await createStore(databaseId);
      await expect(
        store.upsert({
          entityRef: 'component:default/a',
          url: 'ftp://x/y',
          origin: 'api',
        }),
      ).rejects.toThrow(/unsupported scheme ftp/);
      await expect(
        store.upsert({
          entityRef: 'component:default/a',
          url: 'https://x/y',
          path: 'apps/../../etc',
          origin: 'api',
        }),
      ).rejects.toThrow(/must stay inside the repository/);
      expect(await store.list()).toEqual([]);
    });

    it('replaces annotated entries in one go and leaves API entries alone', async () => {
      const { store } = await createStore(databaseId);
      const entityRef = 'component:default/podinfo';
      const viaApi = await store.upsert({
        entityRef,
        url: 'oci://registry.example.com/team/podinfo',
        origin: 'api',
      });
      await store.replaceAnnotated(entityRef, [
        {
          entityRef,
          url: 'https://gitlab.example.com/team/a',
          origin: 'annotation',
        },
        {
          entityRef,
          url: 'https://gitlab.example.com/team/b',
          origin: 'annotation',
        },
      ]);
      await store.replaceAnnotated(entityRef, [
        {
          entityRef,
          url: 'https://gitlab.example.com/team/b',
          origin: 'annotation',
        },
      ]);
      const urls = (await store.list({ entityRef }))
        .map(r => `${r.origin} ${r.url}`)
        .sort();
      expect(urls).toEqual([
        'annotation https://gitlab.example.com/team/b',
        `api ${viaApi.url}`,
      ]);

      // A bad URL in the batch rolls the whole replacement back.
      await expect(
        store.replaceAnnotated(entityRef, [
          {
            entityRef,
            url: 'https://gitlab.example.com/team/c',
            origin: 'annotation',
          },
          { entityRef, url: 'not a url', origin: 'annotation' },
        ]),
      ).rejects.toThrow(/Invalid delivery repository URL/);
      expect((await store.list({ entityRef })).map(r => r.url).sort()).toEqual([
        'https://gitlab.example.com/team/b',
        viaApi.url,
      ]);
    });

    it('migrates down cleanly', async () => {
      const { knex } = await createStore(databaseId);
      const directory = resolvePackagePath(
        '@backstage-gitops/plugin-gitops-backend',
        'migrations',
      );
      expect(await knex.schema.hasTable('gitops_delivery_repositories')).toBe(
        true,
      );
      await knex.migrate.rollback({ directory }, true);
      expect(await knex.schema.hasTable('gitops_delivery_repositories')).toBe(
        false,
      );
      await knex.migrate.latest({ directory });
      expect(await knex.schema.hasTable('gitops_delivery_repositories')).toBe(
        true,
      );
    });
  },
);
