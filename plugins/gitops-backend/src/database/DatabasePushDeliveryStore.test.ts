import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabasePushDeliveryStore } from './DatabasePushDeliveryStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const lease = (owner: string, ms = 60_000) => ({
  owner,
  until: new Date(Date.now() + ms),
});
const delivery = (id: string) => ({
  id,
  topic: 'gitlab.push',
  push: {
    urls: ['https://gitlab.example.com/team/delivery.git'],
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
  },
});

describe.each(databases.eachSupportedId())(
  'DatabasePushDeliveryStore on %p',
  databaseId => {
    it('accepts each delivery once across replicas and hands abandoned ones over', async () => {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      const a = await DatabasePushDeliveryStore.create({ database });
      const b = await DatabasePushDeliveryStore.create({ database });

      // A redelivery to the other replica, even at the same moment, is refused.
      const accepted = await Promise.all([
        a.accept(delivery('d1'), lease('a')),
        b.accept(delivery('d1'), lease('b')),
      ]);
      expect(accepted.filter(Boolean)).toHaveLength(1);
      expect(await a.accept(delivery('d1'), lease('a'))).toBe(false);

      // Held by a live replica: nobody else takes it; finished: nobody at all.
      expect(await b.claimAbandoned(lease('b'))).toEqual([]);
      await a.finish('d1');
      await b.finish('d1');

      // A replica accepted d2 and died: its lease runs out, another relays it.
      expect(await a.accept(delivery('d2'), lease('a', -1))).toBe(true);
      expect(await b.claimAbandoned(lease('b'))).toEqual([delivery('d2')]);
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);

      // Finished ones are forgotten after a while; pending ones are kept.
      await a.prune(new Date(Date.now() + 1_000));
      expect(await a.accept(delivery('d1'), lease('a'))).toBe(true);
      expect(await a.accept(delivery('d2'), lease('a'))).toBe(false);
    });
  },
);
