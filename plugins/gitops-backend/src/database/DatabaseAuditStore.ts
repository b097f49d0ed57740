import { DatabaseService } from '@backstage/backend-plugin-api';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import type { FluxKind } from '../actions/fluxKinds';
import { AuditInput, AuditRecord, AuditStore } from './AuditStore';
import { migratedClient, toIso } from './migrations';

const TABLE = 'gitops_audit';
const MAX_LIMIT = 500;

interface Row {
  id: string;
  actor: string;
  entity_ref: string;
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  action: string;
  outcome: string;
  message: string | null;
  operation_id: string | null;
  at: Date | string;
  duration_ms: number;
}

function fromRow(row: Row): AuditRecord {
  return {
    id: row.id,
    actor: row.actor,
    entityRef: row.entity_ref,
    cluster: row.cluster,
    target: {
      kind: row.kind as FluxKind,
      namespace: row.namespace,
      name: row.name,
    },
    action: row.action as AuditRecord['action'],
    outcome: row.outcome as AuditRecord['outcome'],
    ...(row.message ? { message: row.message } : {}),
    ...(row.operation_id ? { operationId: row.operation_id } : {}),
    at: toIso(row.at),
    durationMs: row.duration_ms,
  };
}

/** The knex implementation of {@link AuditStore} (SQLite and PostgreSQL). */
export class DatabaseAuditStore implements AuditStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseAuditStore> {
    const client = await migratedClient(options.database);
    return new DatabaseAuditStore(client);
  }

  private constructor(private readonly db: Knex) {}

  async record(input: AuditInput) {
    const row: Row = {
      id: randomUUID(),
      actor: input.actor,
      entity_ref: input.entityRef,
      cluster: input.cluster,
      kind: input.target.kind,
      namespace: input.target.namespace,
      name: input.target.name,
      action: input.action,
      outcome: input.outcome,
      message: input.message ?? null,
      operation_id: input.operationId ?? null,
      at: new Date(input.at),
      duration_ms: Math.max(0, Math.round(input.durationMs)),
    };
    await this.db<Row>(TABLE).insert(row);
    return fromRow(row);
  }

  async list(filter: { entityRef: string; limit?: number }) {
    const limit = Math.min(Math.max(1, filter.limit ?? 50), MAX_LIMIT);
    const rows = await this.db<Row>(TABLE)
      .where({ entity_ref: filter.entityRef })
      .orderBy([
        { column: 'at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit);
    return rows.map(fromRow);
  }
}
