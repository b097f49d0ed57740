import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { DatabaseAuditStore } from './DatabaseAuditStore';
import { DatabaseOperationStore } from './DatabaseOperationStore';
import { LeaseLostError } from './leases';
import { OperationInput } from './OperationStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const lease = (owner: string, ms = 60_000) => ({
  owner,
  until: new Date(Date.now() + ms),
});

const input: OperationInput = {
  entityRef: 'component:default/podinfo',
  cluster: 'dev',
  target: { kind: 'Kustomization', namespace: 'flux-system', name: 'podinfo' },
  action: 'reconcile',
  withSource: true,
  requestedBy: 'user:default/guest',
};

const step = (type: 'requested' | 'ready' | 'failed') => ({
  type,
  at: new Date().toISOString(),
  object: input.target,
});

async function createStores(databaseId: Parameters<typeof databases.init>[0]) {
  const knex = await databases.init(databaseId);
  const database = mockServices.database.mock({ getClient: async () => knex });
  return {
    knex,
    operations: await DatabaseOperationStore.create({ database }),
    audit: await DatabaseAuditStore.create({ database }),
  };
}

describe.each(databases.eachSupportedId())(
  'operation and audit stores on %p',
  databaseId => {
    it('leases each unfinished operation to one replica at a time', async () => {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      // Two replicas' stores on one database.
      const a = await DatabaseOperationStore.create({ database });
      const b = await DatabaseOperationStore.create({ database });
      const created = await a.create(input, lease('a'));
      const held = { id: created.operation.id, fence: created.fence };
      expect(await b.claimAbandoned(lease('b'))).toEqual([]);

      // a stops and lets go: b adopts it, and a cannot take it back.
      await a.release([held], 'a');
      const adopted = await b.claimAbandoned(lease('b'));
      expect(adopted.map(o => o.operation.id)).toEqual([held.id]);
      expect(adopted[0].fence).toBe(held.fence + 1);
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);
      // Only the holder renews: a's lease is gone.
      expect(await a.renew([held], lease('a', -1_000))).toEqual([]);
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);

      // A lease that ran out (its replica died) goes to exactly one of two claimants.
      const orphan = await a.create(input, lease('gone', -1_000));
      const [fromA, fromB] = await Promise.all([
        a.claimAbandoned(lease('a')),
        b.claimAbandoned(lease('b')),
      ]);
      expect([...fromA, ...fromB].map(o => o.operation.id)).toEqual([
        orphan.operation.id,
      ]);

      // A finished operation is nobody's.
      const byB = { id: held.id, fence: adopted[0].fence };
      await b.finish(byB, { status: 'succeeded' });
      await b.release([byB], 'b');
      expect(
        (await a.claimAbandoned(lease('a'))).map(o => o.operation.id),
      ).not.toContain(held.id);
    });

    it('fences the writes of a holder whose operation was adopted', async () => {
      const knex = await databases.init(databaseId);
      const database = mockServices.database.mock({
        getClient: async () => knex,
      });
      const a = await DatabaseOperationStore.create({ database });
      const b = await DatabaseOperationStore.create({ database });
      const created = await a.create(input, lease('a'));
      const stale = { id: created.operation.id, fence: created.fence };
      await a.markRunning(stale);
      await a.appendStep(stale, step('requested'));

      // a stalls past its lease; b adopts the operation.
      await knex('gitops_operations')
        .where({ id: stale.id })
        .update({ lease_expires_at: new Date(Date.now() - 1) });
      const [adopted] = await b.claimAbandoned(lease('b'));
      const fresh = { id: stale.id, fence: adopted.fence };
      expect(fresh.fence).toBe(stale.fence + 1);
      await b.markRunning(fresh);
      await b.appendStep(fresh, step('ready'));

      // a wakes up: none of its writes lands, before or after b finishes.
      await expect(a.appendStep(stale, step('failed'))).rejects.toThrow(
        LeaseLostError,
      );
      await expect(a.markRunning(stale)).rejects.toThrow(LeaseLostError);
      await expect(a.renew([stale], lease('a'))).resolves.toEqual([]);
      const finished = await b.finish(fresh, { status: 'succeeded' });
      await expect(
        a.finish(stale, { status: 'failed', error: 'stale' }),
      ).rejects.toThrow(LeaseLostError);
      await expect(a.appendStep(stale, step('failed'))).rejects.toThrow(
        LeaseLostError,
      );
      expect(await a.get(stale.id)).toEqual(finished);
      expect(finished).toMatchObject({ status: 'succeeded' });
      expect(finished.steps.map(s => s.type)).toEqual(['requested', 'ready']);
      // Two stale writers at once (PostgreSQL's row locks, SQLite's one writer): still none.
      await expect(
        Promise.all([
          a.appendStep(stale, step('failed')),
          b.appendStep({ ...fresh, fence: fresh.fence - 1 }, step('failed')),
        ]),
      ).rejects.toThrow(LeaseLostError);
      await expect(
        a.appendStep({ id: 'missing', fence: 1 }, step('failed')),
      ).rejects.toThrow(/No operation missing/);
    });

    it('keeps an operation from pending to finished with its steps', async () => {
      const { operations } = await createStores(databaseId);
      const leased = await operations.create(input, lease('a'));
      const created = leased.operation;
      const held = { id: created.id, fence: leased.fence };
      expect(created).toMatchObject({ ...input, status: 'pending', steps: [] });
      expect(await operations.listUnfinished()).toEqual([created]);

      await operations.markRunning(held);
      const started = (await operations.get(created.id))!;
      expect(started.status).toBe('running');
      // Re-attaching keeps the first start time.
      await operations.markRunning(held);
      expect((await operations.get(created.id))!.startedAt).toBe(
        started.startedAt,
      );

      const requested = {
        type: 'requested' as const,
        at: new Date().toISOString(),
        object: input.target,
        requestedAt: '2026-11-25T10:00:00.123456789Z',
        previousHandledAt: '2026-11-25T09:00:00Z',
      };
      const failed = {
        type: 'failed' as const,
        at: new Date().toISOString(),
        object: input.target,
        message: 'boom',
      };
      await operations.appendStep(held, requested);
      await operations.appendStep(held, failed);

      const finished = await operations.finish(held, {
        status: 'failed',
        error: 'boom',
      });
      expect(finished).toMatchObject({
        status: 'failed',
        error: 'boom',
        steps: [requested, failed],
        withSource: true,
      });
      expect(finished.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(finished.finishedAt!)).toBeGreaterThanOrEqual(
        Date.parse(finished.createdAt),
      );
      expect(await operations.listUnfinished()).toEqual([]);
      await expect(
        operations.appendStep({ id: 'missing', fence: 1 }, requested),
      ).rejects.toThrow(/No operation missing/);
    });

    it('lists the audit trail of an entity newest first', async () => {
      const { audit } = await createStores(databaseId);
      const base = {
        actor: 'user:default/guest',
        entityRef: input.entityRef,
        cluster: 'dev',
        target: input.target,
        action: 'reconcile' as const,
        durationMs: 1200,
      };
      await audit.record({
        ...base,
        outcome: 'succeeded',
        at: '2026-11-25T10:00:00.000Z',
      });
      await audit.record({
        ...base,
        action: 'suspend',
        outcome: 'failed',
        message: 'forbidden',
        at: '2026-11-25T11:00:00.000Z',
      });
      await audit.record({
        ...base,
        entityRef: 'component:default/other',
        outcome: 'succeeded',
        at: '2026-11-25T12:00:00.000Z',
      });

      const trail = await audit.list({ entityRef: input.entityRef });
      expect(trail.map(r => `${r.at} ${r.action} ${r.outcome}`)).toEqual([
        '2026-11-25T11:00:00.000Z suspend failed',
        '2026-11-25T10:00:00.000Z reconcile succeeded',
      ]);
      expect(trail[0]).toMatchObject({
        message: 'forbidden',
        durationMs: 1200,
      });
      expect(
        await audit.list({ entityRef: input.entityRef, limit: 1 }),
      ).toHaveLength(1);
    });

    it('migrates down cleanly', async () => {
      const { knex } = await createStores(databaseId);
      const directory = resolvePackagePath(
        '@backstage-gitops/plugin-gitops-backend',
        'migrations',
      );
      expect(await knex.schema.hasTable('gitops_operations')).toBe(true);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(true);
      // The fencing migration alone, down and up again.
      expect(await knex.schema.hasTable('gitops_push_keys')).toBe(true);
      await knex.migrate.down({ directory, name: '20261207100000_fencing.js' });
      expect(await knex.schema.hasTable('gitops_push_keys')).toBe(false);
      expect(
        await knex.schema.hasColumn('gitops_operations', 'lease_generation'),
      ).toBe(false);
      expect(await knex.schema.hasColumn('gitops_locks', 'generation')).toBe(
        false,
      );
      expect(
        await knex.schema.hasColumn('gitops_operations', 'lease_owner'),
      ).toBe(true);
      await knex.migrate.up({ directory, name: '20261207100000_fencing.js' });
      expect(
        await knex.schema.hasColumn(
          'gitops_push_deliveries',
          'lease_generation',
        ),
      ).toBe(true);
      await knex.migrate.rollback({ directory }, true);
      expect(await knex.schema.hasTable('gitops_operations')).toBe(false);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(false);
      await knex.migrate.latest({ directory });
      expect(await knex.schema.hasTable('gitops_operations')).toBe(true);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(true);
    });
  },
);
