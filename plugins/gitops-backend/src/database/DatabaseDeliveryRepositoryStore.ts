import { DatabaseService } from '@backstage/backend-plugin-api';
import {
  DeliveryRepository,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { InputError } from '@backstage/errors';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import {
  DeliveryRepositoryInput,
  DeliveryRepositoryStore,
} from './DeliveryRepositoryStore';
import { migratedClient, toIso } from './migrations';

const TABLE = 'gitops_delivery_repositories';

interface Row {
  id: string;
  entity_ref: string;
  url: string;
  normalized_url: string;
  kind: string;
  ref: string | null;
  path: string;
  clusters: string | null;
  origin: string;
  created_at: Date | string;
  updated_at: Date | string;
}

function fromRow(row: Row): DeliveryRepository {
  return {
    id: row.id,
    entityRef: row.entity_ref,
    url: row.url,
    kind: row.kind as DeliveryRepository['kind'],
    ...(row.ref ? { ref: row.ref } : {}),
    ...(row.path ? { path: row.path } : {}),
    ...(row.clusters ? { clusters: JSON.parse(row.clusters) as string[] } : {}),
    origin: row.origin as DeliveryRepository['origin'],
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

/** Normalizes a repository path so `apps/x/`, `./apps/x` and `apps/x` are one entry. */
/** A repository path as stored: no leading `./` or `/`, no trailing `/`, never leaving the repository. */
export function normalizePath(path: string | undefined): string {
  const trimmed = (path ?? '')
    .trim()
    .replace(/^\.?\/+/, '')
    .replace(/\/+$/, '');
  if (trimmed.split('/').some(segment => segment === '..')) {
    throw new InputError(
      `Invalid path "${path}": it must stay inside the repository`,
    );
  }
  return trimmed === '.' ? '' : trimmed;
}

/** The knex implementation of {@link DeliveryRepositoryStore} (SQLite and PostgreSQL). */
export class DatabaseDeliveryRepositoryStore
  implements DeliveryRepositoryStore
{
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseDeliveryRepositoryStore> {
    const client = await migratedClient(options.database);
    return new DatabaseDeliveryRepositoryStore(client);
  }

  private constructor(private readonly db: Knex) {}

  async list(filter: { entityRef?: string; normalizedUrl?: string } = {}) {
    const query = this.db<Row>(TABLE).orderBy([
      'entity_ref',
      'normalized_url',
      'path',
    ]);
    if (filter.entityRef) {
      query.where('entity_ref', filter.entityRef);
    }
    if (filter.normalizedUrl) {
      query.where('normalized_url', filter.normalizedUrl);
    }
    return (await query).map(fromRow);
  }

  async get(id: string) {
    const row = await this.db<Row>(TABLE).where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async upsert(input: DeliveryRepositoryInput) {
    return this.db.transaction(async tx => this.upsertIn(tx, input));
  }

  async delete(id: string) {
    return (await this.db<Row>(TABLE).where({ id }).delete()) > 0;
  }

  async replaceAnnotated(entityRef: string, inputs: DeliveryRepositoryInput[]) {
    await this.db.transaction(async tx => {
      const kept = new Set<string>();
      for (const input of inputs) {
        kept.add(
          (
            await this.upsertIn(tx, {
              ...input,
              entityRef,
              origin: 'annotation',
            })
          ).id,
        );
      }
      await tx<Row>(TABLE)
        .where({ entity_ref: entityRef, origin: 'annotation' })
        .whereNotIn('id', [...kept])
        .delete();
    });
  }

  private async upsertIn(tx: Knex.Transaction, input: DeliveryRepositoryInput) {
    let parsed;
    try {
      parsed = parseRepositoryUrl(input.url);
    } catch (error) {
      throw new InputError((error as Error).message);
    }
    const now = new Date();
    const row = {
      id: randomUUID(),
      entity_ref: input.entityRef,
      url: input.url.trim(),
      normalized_url: parsed.normalized,
      kind: parsed.kind,
      ref: input.ref?.trim() || null,
      path: normalizePath(input.path),
      clusters: input.clusters?.length
        ? JSON.stringify([...input.clusters].sort())
        : null,
      origin: input.origin,
      created_at: now,
      updated_at: now,
    };
    await tx<Row>(TABLE)
      .insert(row)
      .onConflict(['entity_ref', 'normalized_url', 'path'])
      .merge(['url', 'kind', 'ref', 'clusters', 'origin', 'updated_at']);
    const stored = await tx<Row>(TABLE)
      .where({
        entity_ref: row.entity_ref,
        normalized_url: row.normalized_url,
        path: row.path,
      })
      .first();
    return fromRow(stored!);
  }
}
