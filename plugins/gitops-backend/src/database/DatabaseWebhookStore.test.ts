import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseWebhookStore } from './DatabaseWebhookStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

describe.each(databases.eachSupportedId())(
  'DatabaseWebhookStore on %p',
  databaseId => {
    it('keeps one webhook per repository, updated in place, until deleted', async () => {
      const knex = await databases.init(databaseId);
      const store = await DatabaseWebhookStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
      const webhook = {
        repository: 'git:gitlab.example.com/team/delivery',
        hostKind: 'gitlab' as const,
        hookId: '7',
        url: 'https://backstage.example.com/api/events/http/gitlab',
        secretDigest: 'a'.repeat(64),
      };
      await store.upsert(webhook);
      const [first] = await store.list();
      expect(first).toMatchObject(webhook);

      await new Promise(resolve => setTimeout(resolve, 5));
      await store.upsert({ ...webhook, hookId: '8' });
      const [second, ...rest] = await store.list();
      expect(rest).toEqual([]);
      expect(second).toMatchObject({ ...webhook, hookId: '8' });
      expect(second.createdAt).toBe(first.createdAt);
      expect(Date.parse(second.verifiedAt)).toBeGreaterThan(
        Date.parse(first.verifiedAt),
      );

      await store.delete(webhook.repository);
      expect(await store.list()).toEqual([]);
    });
  },
);
