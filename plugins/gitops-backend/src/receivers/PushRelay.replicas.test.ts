import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { DatabasePushDeliveryStore } from '../database/DatabasePushDeliveryStore';
import { PushDeliveryStore } from '../database/PushDeliveryStore';
import { PushRelay, RelaySettings } from './PushRelay';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const GIT = 'git:gitlab.example.com/team/delivery';
const receiver = (cluster: string): ManagedReceiver => ({
  cluster,
  namespace: 'flux-system',
  name: 'gitops-git-delivery',
  source: { kind: 'GitRepository', name: 'delivery' },
  repository: GIT,
  createdAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:00:00.000Z',
});
const RECEIVERS = [receiver('dev'), receiver('prod')];

/** A GitLab push of `sha` to main, delivered with the id `uuid`. */
const push = (uuid: string, sha = 'a'.repeat(40)) => ({
  topic: 'gitlab.push',
  eventPayload: {
    object_kind: 'push',
    ref: 'refs/heads/main',
    after: sha,
    checkout_sha: sha,
    project: {
      git_http_url: 'https://gitlab.example.com/team/delivery.git',
      web_url: 'https://gitlab.example.com/team/delivery',
    },
  },
  metadata: { 'x-gitlab-event-uuid': uuid },
});
const sha = (n: number) => n.toString(16).padStart(40, '0');
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** A gate: `wait()` until `open()`. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>(resolve => (open = resolve));
  return { wait: () => opened, open };
}

describe.each(databases.eachSupportedId())(
  'PushRelay replicas on %p',
  databaseId => {
    /** Replicas of the relay on one database; every receiver call is logged. */
    async function setup() {
      const knex = await databases.init(databaseId);
      const deliveries = await DatabasePushDeliveryStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
      const calls: string[] = [];
      const replica = (
        instanceId: string,
        options: {
          leaseMs?: number;
          settings?: Partial<RelaySettings>;
          /** Before each receiver call: a slow or blocked receiver. */
          before?: () => Promise<void>;
          /** This replica's view of the store: its writes can be held. */
          deliveries?: PushDeliveryStore;
          /** Before the receivers are looked up: the replica stalls. */
          lookup?: () => Promise<void>;
        } = {},
      ) =>
        new PushRelay({
          store: {
            list: async () => {
              await options.lookup?.();
              return RECEIVERS;
            },
          },
          deliveries: options.deliveries ?? deliveries,
          trigger: {
            trigger: async (r: ManagedReceiver) => {
              await options.before?.();
              calls.push(`${instanceId} ${r.cluster}`);
              return { result: 'succeeded' as const };
            },
          },
          logger: mockServices.logger.mock(),
          instanceId,
          leaseMs: options.leaseMs,
          settings: options.settings,
        });
      return { knex, deliveries, calls, replica };
    }

    it('renews the lease of a slow relay, so no other replica relays it again', async () => {
      const { knex, calls, replica } = await setup();
      // Leases of 600 ms; the receivers take 2.4 s, four leases.
      const a = replica('a', {
        leaseMs: 600,
        before: async () => {
          await sleep(2_400);
        },
      });
      const b = replica('b', { leaseMs: 600 });
      const relaying = a.handle(push('d1'));
      // b's adoption sweep runs every 100 ms meanwhile.
      const sweeping = (async () => {
        for (let i = 0; i < 30; i++) {
          await b.adoptAbandoned();
          await sleep(100);
        }
      })();
      expect((await relaying).map(o => o.receiver.cluster)).toEqual([
        'dev',
        'prod',
      ]);
      await sweeping;
      expect(calls.sort()).toEqual(['a dev', 'a prod']);
      expect(
        await knex('gitops_push_deliveries').where({ id: 'd1' }).first(),
      ).toMatchObject({ status: 'done', lease_generation: 1 });
    });

    it('stops a replica that stalled past its lease: it calls no receiver after the adopter', async () => {
      const { knex, deliveries, calls, replica } = await setup();
      // a's stall: its database writes and its work are held until it wakes.
      const stall = gate();
      const held: PushDeliveryStore = {
        accept: (...args) => deliveries.accept(...args),
        claimAbandoned: (...args) => deliveries.claimAbandoned(...args),
        prune: (...args) => deliveries.prune(...args),
        release: (...args) => deliveries.release(...args),
        renew: async (...args) => {
          await stall.wait();
          return deliveries.renew(...args);
        },
        finish: async (...args) => {
          await stall.wait();
          return deliveries.finish(...args);
        },
      };
      const a = replica('a', {
        leaseMs: 300,
        deliveries: held,
        lookup: stall.wait,
      });
      const b = replica('b', { leaseMs: 60_000 });
      const accepted = await a.accept(push('d1'));
      const relaying = a.relay(accepted!);
      await sleep(400);
      // a's lease ran out while it stood still: b adopts and relays it.
      await b.adoptAbandoned();
      expect(calls.sort()).toEqual(['b dev', 'b prod']);
      const done = await knex('gitops_push_deliveries')
        .where({ id: 'd1' })
        .first();
      expect(done).toMatchObject({ status: 'done', lease_generation: 2 });

      stall.open();
      expect(await relaying).toEqual([]);
      await sleep(200);
      expect(calls.sort()).toEqual(['b dev', 'b prod']);
      expect(
        await knex('gitops_push_deliveries').where({ id: 'd1' }).first(),
      ).toEqual(done);
    });

    it('relays a burst through a bounded queue, leaving the overflow for adoption, none twice', async () => {
      const { knex, calls, replica } = await setup();
      const slow = gate();
      let running = 0;
      let peak = 0;
      const settings = { maxConcurrent: 2, maxQueued: 3 };
      const a = replica('a', {
        settings,
        before: async () => {
          running++;
          peak = Math.max(peak, running);
          await slow.wait();
          running--;
        },
      });
      const b = replica('b', { settings });
      // A burst of 10 pushes (each a new commit) on a: 2 relayed, 3 wait, 5 left.
      const accepted = await Promise.all(
        Array.from({ length: 10 }, (_, i) => a.accept(push(`d${i}`, sha(i)))),
      );
      const relays = accepted.map(delivery => a.relay(delivery!));
      await sleep(100);
      expect(a.load).toEqual({ active: 2, queued: 3 });
      // Two relays of two receivers each at once, never more.
      expect(running).toBe(4);
      const left = await knex('gitops_push_deliveries')
        .where({ status: 'pending' })
        .where('lease_expires_at', '<=', new Date());
      expect(left).toHaveLength(5);

      // b's sweep relays what a left; a's own relays finish.
      await b.adoptAbandoned();
      expect(calls.filter(c => c.startsWith('b'))).toHaveLength(10);
      slow.open();
      const outcomes = await Promise.all(relays);
      expect(outcomes.filter(o => o.length === 2)).toHaveLength(5);
      expect(outcomes.filter(o => o.length === 0)).toHaveLength(5);
      expect(peak).toBe(4);
      expect(a.load).toEqual({ active: 0, queued: 0 });

      // Every delivery relayed exactly once, to both receivers.
      expect(calls).toHaveLength(20);
      expect(
        await knex('gitops_push_deliveries').whereNot({ status: 'done' }),
      ).toEqual([]);
      await a.adoptAbandoned();
      await b.adoptAbandoned();
      expect(calls).toHaveLength(20);
    });

    it('relays a push replayed with a fresh delivery id once, on two replicas', async () => {
      const { calls, replica } = await setup();
      const a = replica('a');
      const b = replica('b');
      // The same push (repository, ref, commit) with three ids, two at once.
      const answers = await Promise.all([
        a.handle(push('d1')),
        b.handle(push('d2')),
      ]);
      expect(answers.map(o => o.length).sort()).toEqual([0, 2]);
      expect(await a.handle(push('d3'))).toEqual([]);
      expect(calls).toHaveLength(2);
      // A new commit is a new push.
      await b.handle(push('d4', sha(1)));
      expect(calls).toHaveLength(4);

      // The window is the setting's: with none, every delivery id counts.
      const c = replica('c', { settings: { replayWindowMs: 0 } });
      await c.handle(push('d5'));
      expect(calls).toHaveLength(6);
    });
  },
);
