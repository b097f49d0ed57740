import { DatabaseService } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import type { OperationStep } from '../actions/FluxActions';
import type { FluxKind } from '../actions/fluxKinds';
import {
  Operation,
  OperationInput,
  OperationStatus,
  OperationStore,
} from './OperationStore';
import { migratedClient, toIso } from './migrations';
import { claimExpired, Lease, releaseLeases, renewLeases } from './leases';

const TABLE = 'gitops_operations';

interface Row {
  id: string;
  entity_ref: string;
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  action: string;
  with_source: boolean | number;
  requested_by: string;
  status: string;
  steps: string;
  error: string | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  duration_ms: number | null;
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
}

const UNFINISHED = ['pending', 'running'];

function fromRow(row: Row): Operation {
  return {
    id: row.id,
    entityRef: row.entity_ref,
    cluster: row.cluster,
    target: {
      kind: row.kind as FluxKind,
      namespace: row.namespace,
      name: row.name,
    },
    action: row.action as Operation['action'],
    withSource: Boolean(row.with_source),
    requestedBy: row.requested_by,
    status: row.status as OperationStatus,
    steps: JSON.parse(row.steps) as OperationStep[],
    ...(row.error ? { error: row.error } : {}),
    createdAt: toIso(row.created_at),
    ...(row.started_at ? { startedAt: toIso(row.started_at) } : {}),
    ...(row.finished_at ? { finishedAt: toIso(row.finished_at) } : {}),
    ...(row.duration_ms !== null ? { durationMs: row.duration_ms } : {}),
  };
}

/** The knex implementation of {@link OperationStore} (SQLite and PostgreSQL). */
export class DatabaseOperationStore implements OperationStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseOperationStore> {
    const client = await migratedClient(options.database);
    return new DatabaseOperationStore(client);
  }

  private constructor(private readonly db: Knex) {}

  async create(input: OperationInput, lease: Lease) {
    const row: Row = {
      id: randomUUID(),
      entity_ref: input.entityRef,
      cluster: input.cluster,
      kind: input.target.kind,
      namespace: input.target.namespace,
      name: input.target.name,
      action: input.action,
      with_source: input.withSource,
      requested_by: input.requestedBy,
      status: 'pending',
      steps: '[]',
      error: null,
      created_at: new Date(),
      started_at: null,
      finished_at: null,
      duration_ms: null,
      lease_owner: lease.owner,
      lease_expires_at: lease.until,
    };
    await this.db<Row>(TABLE).insert(row);
    return fromRow(row);
  }

  async get(id: string) {
    const row = await this.db<Row>(TABLE).where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async markRunning(id: string) {
    await this.db<Row>(TABLE)
      .where({ id })
      .whereIn('status', ['pending', 'running'])
      .update({
        status: 'running',
        started_at: this.db.raw('COALESCE(started_at, ?)', [new Date()]),
      });
  }

  // Only the runner that owns an operation appends to it, one step at a time.
  async appendStep(id: string, step: OperationStep) {
    await this.db.transaction(async tx => {
      const row = await tx<Row>(TABLE).where({ id }).first();
      if (!row) throw new NotFoundError(`No operation ${id}`);
      const steps = JSON.parse(row.steps) as OperationStep[];
      await tx<Row>(TABLE)
        .where({ id })
        .update({ steps: JSON.stringify([...steps, step]) });
    });
  }

  async finish(
    id: string,
    outcome: { status: 'succeeded' | 'failed'; error?: string },
  ) {
    const row = await this.db<Row>(TABLE).where({ id }).first();
    if (!row) throw new NotFoundError(`No operation ${id}`);
    const finishedAt = new Date();
    await this.db<Row>(TABLE)
      .where({ id })
      .update({
        status: outcome.status,
        error: outcome.error ?? null,
        finished_at: finishedAt,
        lease_owner: null,
        lease_expires_at: null,
        duration_ms:
          finishedAt.getTime() - new Date(toIso(row.created_at)).getTime(),
      });
    return (await this.get(id))!;
  }

  async listUnfinished() {
    const rows = await this.db<Row>(TABLE)
      .whereIn('status', UNFINISHED)
      .orderBy('created_at');
    return rows.map(fromRow);
  }

  async claimAbandoned(lease: Lease) {
    const ids = await claimExpired(
      this.db,
      TABLE,
      query => query.whereIn('status', UNFINISHED),
      lease,
    );
    const rows = await this.db<Row>(TABLE)
      .whereIn('id', ids)
      .orderBy('created_at');
    return rows.map(fromRow);
  }

  async renew(ids: string[], lease: Lease) {
    await renewLeases(this.db, TABLE, ids, lease);
  }

  async release(ids: string[], owner: string) {
    await releaseLeases(this.db, TABLE, ids, owner);
  }
}
