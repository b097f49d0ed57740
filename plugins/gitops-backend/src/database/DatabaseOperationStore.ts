import { DatabaseService } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import type { OperationStep } from '../actions/FluxActions';
import type { FluxKind } from '../actions/fluxKinds';
import {
  LeasedOperation,
  Operation,
  OperationInput,
  OperationStatus,
  OperationStore,
} from './OperationStore';
import { migratedClient, toIso } from './migrations';
import {
  claimExpired,
  fenced,
  Held,
  Lease,
  LeaseLostError,
  releaseLeases,
  renewLeases,
} from './leases';

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
  lease_generation: number;
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
      lease_generation: 1,
    };
    await this.db<Row>(TABLE).insert(row);
    return { operation: fromRow(row), fence: row.lease_generation };
  }

  async get(id: string) {
    const row = await this.db<Row>(TABLE).where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async markRunning(held: Held) {
    const updated = await fenced(this.db(TABLE), held)
      .whereIn('status', UNFINISHED)
      .update({
        status: 'running',
        started_at: this.db.raw('COALESCE(started_at, ?)', [new Date()]),
      });
    if (updated !== 1) throw await this.lost(held);
  }

  // Only the holder of the operation's lease appends to it, one step at a time.
  async appendStep(held: Held, step: OperationStep) {
    const appended = await this.db.transaction(async tx => {
      const row: Row | undefined = await fenced(tx(TABLE), held).first();
      if (!row) return false;
      const steps = JSON.parse(row.steps) as OperationStep[];
      const updated = await fenced(tx(TABLE), held).update({
        steps: JSON.stringify([...steps, step]),
      });
      return updated === 1;
    });
    if (!appended) throw await this.lost(held);
  }

  async finish(
    held: Held,
    outcome: { status: 'succeeded' | 'failed'; error?: string },
  ) {
    const row: Row | undefined = await fenced(this.db(TABLE), held).first();
    if (!row) throw await this.lost(held);
    const finishedAt = new Date();
    // Not conditional on the status: a retry after a lost answer finishes it again.
    const updated = await fenced(this.db(TABLE), held).update({
      status: outcome.status,
      error: outcome.error ?? null,
      finished_at: finishedAt,
      lease_owner: null,
      lease_expires_at: null,
      duration_ms:
        finishedAt.getTime() - new Date(toIso(row.created_at)).getTime(),
    });
    if (updated !== 1) throw await this.lost(held);
    return (await this.get(held.id))!;
  }

  async listUnfinished() {
    const rows = await this.db<Row>(TABLE)
      .whereIn('status', UNFINISHED)
      .orderBy('created_at');
    return rows.map(fromRow);
  }

  async claimAbandoned(lease: Lease): Promise<LeasedOperation[]> {
    const claimed = await claimExpired(
      this.db,
      TABLE,
      query => query.whereIn('status', UNFINISHED),
      lease,
      { orderBy: 'created_at' },
    );
    const fences = new Map(claimed.map(held => [held.id, held.fence]));
    const rows = await this.db<Row>(TABLE)
      .whereIn('id', [...fences.keys()])
      .orderBy('created_at');
    return rows.map(row => ({
      operation: fromRow(row),
      fence: fences.get(row.id)!,
    }));
  }

  async renew(held: Held[], lease: Lease) {
    return renewLeases(this.db, TABLE, held, lease);
  }

  async release(held: Held[], owner: string) {
    await releaseLeases(this.db, TABLE, held, owner);
  }

  /** Why a fenced write changed nothing: the operation is missing, or another's now. */
  private async lost(held: Held): Promise<Error> {
    const row = await this.db<Row>(TABLE).where({ id: held.id }).first();
    if (!row) return new NotFoundError(`No operation ${held.id}`);
    if (row.lease_generation === held.fence) {
      return new LeaseLostError(`Operation ${held.id} is finished`);
    }
    return new LeaseLostError(
      `Operation ${held.id} was adopted by another instance (lease ${held.fence}, now ${row.lease_generation})`,
    );
  }
}
