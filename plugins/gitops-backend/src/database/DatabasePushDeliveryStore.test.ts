import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabasePushDeliveryStore } from './DatabasePushDeliveryStore';
import { LeaseLostError } from './leases';

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
const fence = (acceptance: { accepted: boolean; fence?: number }) => {
  if (!acceptance.accepted) throw new Error('not accepted');
  return acceptance.fence!;
};

describe.each(databases.eachSupportedId())(
  'DatabasePushDeliveryStore on %p',
  databaseId => {
    async function twoReplicas() {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      return {
        knex,
        a: await DatabasePushDeliveryStore.create({ database }),
        b: await DatabasePushDeliveryStore.create({ database }),
      };
    }

    it('accepts each delivery once across replicas and hands abandoned ones over', async () => {
      const { a, b } = await twoReplicas();

      // A redelivery to the other replica, even at the same moment, is refused.
      const accepted = await Promise.all([
        a.accept(delivery('d1'), lease('a')),
        b.accept(delivery('d1'), lease('b')),
      ]);
      expect(accepted.filter(x => x.accepted)).toHaveLength(1);
      expect(accepted.find(x => !x.accepted)).toEqual({
        accepted: false,
        reason: 'redelivery',
      });
      expect(await a.accept(delivery('d1'), lease('a'))).toMatchObject({
        accepted: false,
      });

      // Held by a live replica: nobody else takes it; finished: nobody at all.
      expect(await b.claimAbandoned(lease('b'))).toEqual([]);
      const d1 = { id: 'd1', fence: fence(accepted.find(x => x.accepted)!) };
      await a.finish(d1);
      await expect(b.finish(d1)).rejects.toThrow(LeaseLostError);

      // A replica accepted d2 and died: its lease runs out, another relays it.
      expect((await a.accept(delivery('d2'), lease('a', -1))).accepted).toBe(
        true,
      );
      expect(await b.claimAbandoned(lease('b'))).toEqual([
        { delivery: delivery('d2'), fence: 2 },
      ]);
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);

      // Finished ones are forgotten after a while; pending ones are kept.
      await a.prune(new Date(Date.now() + 1_000));
      expect((await a.accept(delivery('d1'), lease('a'))).accepted).toBe(true);
      expect((await a.accept(delivery('d2'), lease('a'))).accepted).toBe(false);
    });

    it('fences a relay whose delivery was adopted, and renews only its own', async () => {
      const { a, b } = await twoReplicas();
      const stale = {
        id: 'd1',
        fence: fence(await a.accept(delivery('d1'), lease('a', -1))),
      };
      // a stalled past its lease: b adopts it.
      const [adopted] = await b.claimAbandoned(lease('b'));
      expect(adopted.fence).toBe(stale.fence + 1);
      const fresh = { id: 'd1', fence: adopted.fence };
      expect(await a.renew(stale, lease('a'))).toBe(false);
      expect(await b.renew(fresh, lease('b'))).toBe(true);
      await expect(a.finish(stale)).rejects.toThrow(LeaseLostError);
      // a letting go changes nothing either: b still holds it.
      await a.release(stale, 'a');
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);
      await b.finish(fresh);
      expect(await b.renew(fresh, lease('b'))).toBe(false);

      // Released by its holder: the next sweep of any replica takes it at once.
      const d2 = {
        id: 'd2',
        fence: fence(await a.accept(delivery('d2'), lease('a'))),
      };
      await a.release(d2, 'a');
      expect((await b.claimAbandoned(lease('b'))).map(x => x.fence)).toEqual([
        2,
      ]);
      // A claim takes at most its limit, oldest first.
      for (const id of ['d3', 'd4', 'd5']) {
        await a.accept(delivery(id), lease('a', -1));
      }
      expect(
        (await b.claimAbandoned(lease('b'), 2)).map(x => x.delivery.id),
      ).toEqual(['d3', 'd4']);
    });

    it('recognises the same push replayed with a fresh id within the window, on any replica', async () => {
      const { knex, a, b } = await twoReplicas();
      const replay = { key: 'k'.repeat(64), windowMs: 10 * 60_000 };
      // Two fresh ids at the same moment on two replicas: one is relayed.
      const first = await Promise.all([
        a.accept(delivery('d1'), lease('a'), replay),
        b.accept(delivery('d2'), lease('b'), replay),
      ]);
      expect(first.filter(x => x.accepted)).toHaveLength(1);
      expect(first.find(x => !x.accepted)).toEqual({
        accepted: false,
        reason: 'replay',
      });
      // Later, with a third id: still a replay; the replayed id is known too.
      expect(await b.accept(delivery('d3'), lease('b'), replay)).toEqual({
        accepted: false,
        reason: 'replay',
      });
      const replayedId = first[0].accepted ? 'd2' : 'd1';
      expect(await a.accept(delivery(replayedId), lease('a'), replay)).toEqual({
        accepted: false,
        reason: 'redelivery',
      });
      // Nothing left to adopt: the replays were recorded as done.
      expect(await a.claimAbandoned(lease('a', 0))).toEqual([]);
      // Another push is its own.
      expect(
        (
          await a.accept(delivery('d4'), lease('a'), {
            ...replay,
            key: 'l'.repeat(64),
          })
        ).accepted,
      ).toBe(true);

      // Past the window the same push is relayed again.
      await knex('gitops_push_keys')
        .where({ key: replay.key })
        .update({ received_at: new Date(Date.now() - replay.windowMs - 1) });
      expect(
        (await b.accept(delivery('d5'), lease('b'), replay)).accepted,
      ).toBe(true);
      expect(await a.accept(delivery('d6'), lease('a'), replay)).toEqual({
        accepted: false,
        reason: 'replay',
      });
    });
  },
);
