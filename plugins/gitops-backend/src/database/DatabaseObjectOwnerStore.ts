import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { migratedClient, toIso } from './migrations';
import {
  ObjectOwner,
  ObjectOwnerStore,
  ownedObjectKey,
  OwnedObjectKey,
} from './ObjectOwnerStore';

const TABLE = 'gitops_object_owners';
const READ_SLICE = 100;

interface Row {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  entity_ref: string;
  created_by: string;
  created_at: Date | string;
}

/** The knex implementation of {@link ObjectOwnerStore} (SQLite and PostgreSQL). */
export class DatabaseObjectOwnerStore implements ObjectOwnerStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseObjectOwnerStore> {
    return new DatabaseObjectOwnerStore(await migratedClient(options.database));
  }

  private constructor(private readonly db: Knex) {}

  async claim(
    objects: OwnedObjectKey[],
    owner: { entityRef: string; createdBy: string },
  ) {
    return this.db.transaction(async tx => {
      const existing = await this.read(tx, objects);
      const conflicts = existing.filter(o => o.entityRef !== owner.entityRef);
      if (conflicts.length > 0) return { conflicts, claimed: [] };
      const held = new Set(existing.map(ownedObjectKey));
      const unique = new Map(objects.map(o => [ownedObjectKey(o), o]));
      const claimed = [...unique.values()].filter(
        o => !held.has(ownedObjectKey(o)),
      );
      if (claimed.length > 0) {
        const now = new Date();
        // A concurrent claim of the same object fails on the primary key: the
        // transaction is rolled back and the caller sees the error, never two owners.
        await tx<Row>(TABLE).insert(
          claimed.map(o => ({
            cluster: o.cluster,
            kind: o.kind,
            namespace: o.namespace,
            name: o.name,
            entity_ref: owner.entityRef,
            created_by: owner.createdBy,
            created_at: now,
          })),
        );
      }
      return { conflicts: [], claimed };
    });
  }

  async release(objects: OwnedObjectKey[], entityRef: string) {
    for (const o of objects) {
      await this.db<Row>(TABLE)
        .where({
          cluster: o.cluster,
          kind: o.kind,
          namespace: o.namespace,
          name: o.name,
          entity_ref: entityRef,
        })
        .delete();
    }
  }

  async ownersOf(objects: OwnedObjectKey[]) {
    return this.read(this.db, objects);
  }

  private async read(
    db: Knex | Knex.Transaction,
    objects: OwnedObjectKey[],
  ): Promise<ObjectOwner[]> {
    const rows: Row[] = [];
    // In slices: a status page asks for hundreds of objects, and SQLite bounds how deep
    // one expression may nest.
    for (let start = 0; start < objects.length; start += READ_SLICE) {
      rows.push(
        ...(await db<Row>(TABLE).where(builder => {
          for (const o of objects.slice(start, start + READ_SLICE)) {
            builder.orWhere({
              cluster: o.cluster,
              kind: o.kind,
              namespace: o.namespace,
              name: o.name,
            });
          }
        })),
      );
    }
    return rows.map(row => ({
      cluster: row.cluster,
      kind: row.kind,
      namespace: row.namespace,
      name: row.name,
      entityRef: row.entity_ref,
      createdBy: row.created_by,
      createdAt: toIso(row.created_at),
    }));
  }
}
