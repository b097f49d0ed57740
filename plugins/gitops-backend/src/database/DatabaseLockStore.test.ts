import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseLockStore } from './DatabaseLockStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

describe.each(databases.eachSupportedId())(
  'DatabaseLockStore on %p',
  databaseId => {
    it('lets one holder at a time run, across replicas, and outlives no dead holder', async () => {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      const a = await DatabaseLockStore.create({ database, instanceId: 'a' });
      const b = await DatabaseLockStore.create({ database, instanceId: 'b' });

      let release!: () => void;
      const holding = a.runExclusively(
        'token-change:x',
        () => new Promise<string>(resolve => (release = () => resolve('a'))),
      );
      await new Promise(resolve => setTimeout(resolve, 50));
      const work = jest.fn(async () => 'b');
      expect(await b.runExclusively('token-change:x', work)).toBeUndefined();
      expect(await a.runExclusively('token-change:x', work)).toBeUndefined();
      expect(work).not.toHaveBeenCalled();
      // Another name is free.
      expect(await b.runExclusively('token-change:y', work)).toEqual({
        result: 'b',
      });

      release();
      expect(await holding).toEqual({ result: 'a' });
      expect(await b.runExclusively('token-change:x', work)).toEqual({
        result: 'b',
      });

      // A holder that died (its lock expired, never released) blocks nobody.
      await knex('gitops_locks').insert({
        name: 'token-change:z',
        owner: 'dead',
        expires_at: new Date(Date.now() - 1),
      });
      expect(await b.runExclusively('token-change:z', work)).toEqual({
        result: 'b',
      });
    });
  },
);
