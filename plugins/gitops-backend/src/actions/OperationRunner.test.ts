import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { AuditorService } from '@backstage/backend-plugin-api';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { DatabaseAuditStore } from '../database/DatabaseAuditStore';
import { DatabaseOperationStore } from '../database/DatabaseOperationStore';
import { OperationInput } from '../database/OperationStore';
import { FluxActions } from './FluxActions';
import { OperationRunner } from './OperationRunner';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

const VERSIONS: Record<string, string> = {
  'source.toolkit.fluxcd.io': 'v1',
  'kustomize.toolkit.fluxcd.io': 'v1',
  'helm.toolkit.fluxcd.io': 'v2',
  'notification.toolkit.fluxcd.io': 'v1',
};

const kustomizationType = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};

const reconcilePodinfo: OperationInput = {
  entityRef: 'component:default/podinfo',
  cluster: 'dev',
  target: { kind: 'Kustomization', namespace: 'flux-system', name: 'podinfo' },
  action: 'reconcile',
  withSource: false,
  requestedBy: 'user:default/guest',
};

async function eventually<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

describe('OperationRunner against the sandbox', () => {
  let world: SandboxWorld;
  let dataDir: string;
  const audited: string[] = [];
  const auditor: AuditorService = {
    async createEvent({ eventId, meta }) {
      return {
        success: async () => {
          audited.push(`${eventId} ${meta?.action} succeeded`);
        },
        fail: async ({ error }) => {
          audited.push(`${eventId} ${meta?.action} failed: ${error.message}`);
        },
      };
    },
  };

  async function setUp() {
    const knex = await databases.init('SQLITE_3');
    const database = mockServices.database.mock({
      getClient: async () => knex,
    });
    const operations = await DatabaseOperationStore.create({ database });
    const audit = await DatabaseAuditStore.create({ database });
    const sandbox = world.cluster('dev');
    const newRunner = (options: { leaseMs?: number } = {}) =>
      new OperationRunner({
        ...options,
        operations,
        audit,
        auditor,
        logger: mockServices.logger.mock(),
        timeoutMs: 30_000,
        actionsFor: async () =>
          new FluxActions({
            kubeConfig: kubeConfigFor({
              name: 'dev',
              url: sandbox.api.url,
              source: 'config',
              skipTLSVerify: true,
              auth: { type: 'serviceAccount', token: sandbox.tokens.backstage },
              settings: {
                fluxNamespace: 'flux-system',
                trustedServiceProxyPaths: [],
              },
            }),
            versionOf: group => VERSIONS[group],
            pollIntervalMs: 100,
          }),
      });
    return { knex, operations, audit, newRunner };
  }

  const stored = () =>
    world
      .cluster('dev')
      .api.store.get(kustomizationType, 'flux-system', 'podinfo')!;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-runner-'));
    world = await startWorld({
      dataDir,
      clusters: ['dev'],
      sourceInterval: '1m',
    });
    await eventually(async () =>
      (stored().status as any)?.conditions?.some(
        (c: any) => c.type === 'Ready' && c.status === 'True',
      )
        ? true
        : undefined,
    );
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    audited.length = 0;
  });

  it('answers with a pending operation, then records its steps, outcome and audit', async () => {
    const { audit, newRunner } = await setUp();
    const runner = newRunner();
    const operation = await runner.start(reconcilePodinfo);
    expect(operation.status).toBe('pending');

    const finished = (await runner.settled(operation.id))!;
    expect(finished.status).toBe('succeeded');
    expect(finished.steps.map(s => s.type)).toEqual([
      'requested',
      'applied',
      'ready',
    ]);
    expect(finished.durationMs).toBeGreaterThanOrEqual(0);
    expect((stored().status as any).lastHandledReconcileAt).toBe(
      finished.steps[0].requestedAt,
    );

    const trail = await audit.list({ entityRef: reconcilePodinfo.entityRef });
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({
      actor: 'user:default/guest',
      cluster: 'dev',
      target: reconcilePodinfo.target,
      action: 'reconcile',
      outcome: 'succeeded',
      operationId: operation.id,
    });
    expect(audited).toEqual(['flux-action reconcile succeeded']);
  });

  it('records a refused action as failed', async () => {
    const { audit, newRunner } = await setUp();
    const runner = newRunner();
    const suspend = await runner.start({
      ...reconcilePodinfo,
      action: 'suspend',
    });
    expect((await runner.settled(suspend.id))!.status).toBe('succeeded');

    const refused = await runner.start(reconcilePodinfo);
    const finished = (await runner.settled(refused.id))!;
    expect(finished).toMatchObject({
      status: 'failed',
      error: 'Kustomization/flux-system/podinfo: resource is suspended',
      steps: [],
    });

    const resume = await runner.start({
      ...reconcilePodinfo,
      action: 'resume',
    });
    expect((await runner.settled(resume.id))!.status).toBe('succeeded');
    expect(
      (await audit.list({ entityRef: reconcilePodinfo.entityRef })).map(
        r => `${r.action} ${r.outcome}`,
      ),
    ).toEqual(['resume succeeded', 'reconcile failed', 'suspend succeeded']);
    expect(audited[1]).toMatch(/reconcile failed: .*resource is suspended/);
  });

  it('lets a new process finish what a stopped one left running, without patching again', async () => {
    const { operations, newRunner } = await setUp();
    world.cluster('dev').flux.faults.setReconcileDuration(1500);
    try {
      const first = newRunner();
      const operation = await first.start(reconcilePodinfo);
      const requested = await eventually(async () =>
        (await operations.get(operation.id))!.steps.find(
          s => s.type === 'requested',
        ),
      );
      await first.stop();
      expect((await operations.get(operation.id))!.status).toBe('running');

      // A pending operation whose instance died before it started (its lease ran out)
      // is redone from the start.
      const pending = await operations.create(
        {
          ...reconcilePodinfo,
          target: { ...reconcilePodinfo.target, name: 'payments' },
          entityRef: 'component:default/payments',
        },
        { owner: 'a-replica-that-died', until: new Date(Date.now() - 1) },
      );

      const second = newRunner();
      await second.adoptAbandoned();
      const finished = (await second.settled(operation.id))!;
      expect(finished.status).toBe('succeeded');
      expect(finished.steps.filter(s => s.type === 'requested')).toEqual([
        requested,
      ]);
      expect(finished.steps.at(-1)!.type).toBe('ready');
      expect(
        stored().metadata.annotations!['reconcile.fluxcd.io/requestedAt'],
      ).toBe(requested.requestedAt);

      const redone = (await second.settled(pending.operation.id))!;
      expect(redone.status).toBe('succeeded');
      expect(redone.steps.map(s => s.type)).toContain('requested');
      expect(await operations.listUnfinished()).toEqual([]);
    } finally {
      world.cluster('dev').flux.faults.setReconcileDuration(0);
    }
  });

  it('stops a run whose operation another instance adopted, patching nothing more', async () => {
    const { knex, operations, audit, newRunner } = await setUp();
    world.cluster('dev').flux.faults.setReconcileDuration(1500);
    try {
      // Renewed every 100 ms.
      const stale = newRunner({ leaseMs: 300 });
      const before =
        stored().metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
      const operation = await stale.start({
        ...reconcilePodinfo,
        withSource: true,
      });
      // The source is requested; the Kustomization waits for it to be Ready.
      await eventually(async () =>
        (await operations.get(operation.id))!.steps.some(
          s => s.type === 'requested',
        )
          ? true
          : undefined,
      );
      // This instance stalled past its lease; another one adopted the operation.
      await knex('gitops_operations')
        .where({ id: operation.id })
        .update({ lease_expires_at: new Date(Date.now() - 1) });
      const [adopted] = await operations.claimAbandoned({
        owner: 'the-adopter',
        until: new Date(Date.now() + 60_000),
      });
      expect(adopted.operation.id).toBe(operation.id);

      // The next renewal finds out: the run stops, long before the source is Ready.
      const started = Date.now();
      await stale.settled(operation.id);
      expect(Date.now() - started).toBeLessThan(1_000);
      await new Promise(resolve => setTimeout(resolve, 2_000));
      // The Kustomization was never patched, nothing more was written, nothing audited.
      expect(
        stored().metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
      ).toBe(before);
      const left = (await operations.get(operation.id))!;
      expect(left.status).toBe('running');
      expect(left.steps.map(s => `${s.type} ${s.object.kind}`)).toEqual([
        'requested GitRepository',
      ]);
      expect(
        await audit.list({ entityRef: reconcilePodinfo.entityRef }),
      ).toEqual([]);
      expect(audited).toEqual([]);
    } finally {
      world.cluster('dev').flux.faults.setReconcileDuration(0);
    }
  });

  it('goes on with its own run when it re-takes a lease that ran out under it', async () => {
    const { knex, operations, audit, newRunner } = await setUp();
    world.cluster('dev').flux.faults.setReconcileDuration(1500);
    try {
      const runner = newRunner();
      const operation = await runner.start(reconcilePodinfo);
      await eventually(async () =>
        (await operations.get(operation.id))!.steps.some(
          s => s.type === 'requested',
        )
          ? true
          : undefined,
      );
      // Its lease ran out (the database was away longer than a lease, say): its own
      // sweep takes it again, and the run carries on under the new lease.
      await knex('gitops_operations')
        .where({ id: operation.id })
        .update({ lease_expires_at: new Date(Date.now() - 1) });
      await runner.adoptAbandoned();
      const finished = (await runner.settled(operation.id))!;
      expect(finished.status).toBe('succeeded');
      expect(finished.steps.filter(s => s.type === 'requested')).toHaveLength(
        1,
      );
      expect(
        await audit.list({ entityRef: reconcilePodinfo.entityRef }),
      ).toHaveLength(1);
      expect(
        (await knex('gitops_operations').where({ id: operation.id }).first())
          .lease_generation,
      ).toBe(2);
    } finally {
      world.cluster('dev').flux.faults.setReconcileDuration(0);
    }
  });
});
