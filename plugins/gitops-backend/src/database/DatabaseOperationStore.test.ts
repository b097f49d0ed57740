import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { DatabaseAuditStore } from './DatabaseAuditStore';
import { DatabaseOperationStore } from './DatabaseOperationStore';
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
      const held = await a.create(input, lease('a'));
      expect(await b.claimAbandoned(lease('b'))).toEqual([]);

      // a stops and lets go: b adopts it, and a cannot take it back.
      await a.release([held.id], 'a');
      expect((await b.claimAbandoned(lease('b'))).map(o => o.id)).toEqual([
        held.id,
      ]);
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);
      // Only the holder renews.
      await a.renew([held.id], lease('a', -1_000));
      expect(await a.claimAbandoned(lease('a'))).toEqual([]);

      // A lease that ran out (its replica died) goes to exactly one of two claimants.
      const orphan = await a.create(input, lease('gone', -1_000));
      const [fromA, fromB] = await Promise.all([
        a.claimAbandoned(lease('a')),
        b.claimAbandoned(lease('b')),
      ]);
      expect([...fromA, ...fromB].map(o => o.id)).toEqual([orphan.id]);

      // A finished operation is nobody's.
      await b.finish(held.id, { status: 'succeeded' });
      await b.release([held.id], 'b');
      expect((await a.claimAbandoned(lease('a'))).map(o => o.id)).not.toContain(
        held.id,
      );
    });

    it('keeps an operation from pending to finished with its steps', async () => {
      const { operations } = await createStores(databaseId);
      const created = await operations.create(input, lease('a'));
      expect(created).toMatchObject({ ...input, status: 'pending', steps: [] });
      expect(await operations.listUnfinished()).toEqual([created]);

      await operations.markRunning(created.id);
      const started = (await operations.get(created.id))!;
      expect(started.status).toBe('running');
      // Re-attaching keeps the first start time.
      await operations.markRunning(created.id);
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
      await operations.appendStep(created.id, requested);
      await operations.appendStep(created.id, failed);

      const finished = await operations.finish(created.id, {
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
      await expect(operations.appendStep('missing', requested)).rejects.toThrow(
        /No operation missing/,
      );
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
      await knex.migrate.rollback({ directory }, true);
      expect(await knex.schema.hasTable('gitops_operations')).toBe(false);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(false);
      await knex.migrate.latest({ directory });
      expect(await knex.schema.hasTable('gitops_operations')).toBe(true);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(true);
    });
  },
);
