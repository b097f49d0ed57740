import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseLockStore } from './DatabaseLockStore';
import { LeaseLostError } from './leases';
import { HeldLock } from './LockStore';

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

    it('fences a holder that stalled past its lock: it learns before its next write', async () => {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      // a renews every 100 ms; its lock outlives a stall of 300 ms.
      const a = await DatabaseLockStore.create({
        database,
        instanceId: 'a',
        ttlMs: 300,
      });
      const b = await DatabaseLockStore.create({ database, instanceId: 'b' });
      const writes: string[] = [];
      const write = (who: string) => async () => {
        writes.push(who);
      };

      let stalled!: HeldLock;
      let wake!: () => void;
      const holding = a.runExclusively('token-change:x', async lock => {
        stalled = lock;
        await lock.whileHeld(write('a before'));
        // a's event loop stands still (its timers too): here, its work waits.
        await new Promise<void>(resolve => (wake = resolve));
        await lock.whileHeld(write('a after'));
      });
      await new Promise(resolve => setTimeout(resolve, 50));
      // As a's renewals would not run in a real stall: the lock runs out.
      await knex('gitops_locks')
        .where({ name: 'token-change:x' })
        .update({ expires_at: new Date(Date.now() - 1) });
      const taken = await b.runExclusively('token-change:x', async lock => {
        expect(lock.generation).toBe(stalled.generation + 1);
        await lock.whileHeld(write('b'));
        wake();
        // a's next write is refused, and its renewal tells its work to stop.
        await expect(holding).rejects.toThrow(LeaseLostError);
        await expect(stalled.check()).rejects.toThrow(LeaseLostError);
        await new Promise(resolve => setTimeout(resolve, 150));
        expect(stalled.signal.aborted).toBe(true);
        return 'b';
      });
      expect(taken).toEqual({ result: 'b' });
      expect(writes).toEqual(['a before', 'b']);

      // a's release did not free b's lock; b's did, and the generation goes on.
      const next = await b.runExclusively('token-change:x', async lock => {
        await lock.check();
        return lock.generation;
      });
      expect(next).toEqual({ result: stalled.generation + 2 });
    });
  },
);
