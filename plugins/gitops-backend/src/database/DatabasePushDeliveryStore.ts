import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import {
  claimExpired,
  fenced,
  Held,
  Lease,
  LeaseLostError,
  releaseLeases,
  renewLeases,
} from './leases';
import { migratedClient } from './migrations';
import {
  Acceptance,
  LeasedDelivery,
  PushDelivery,
  PushDeliveryStore,
} from './PushDeliveryStore';

const TABLE = 'gitops_push_deliveries';
const KEYS = 'gitops_push_keys';

interface Row {
  id: string;
  topic: string;
  push: string;
  status: 'pending' | 'done';
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  lease_generation: number;
  received_at: Date | string;
  finished_at: Date | string | null;
}

interface KeyRow {
  key: string;
  delivery_id: string;
  received_at: Date | string;
}

/** The knex implementation of {@link PushDeliveryStore} (SQLite and PostgreSQL). */
export class DatabasePushDeliveryStore implements PushDeliveryStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabasePushDeliveryStore> {
    return new DatabasePushDeliveryStore(
      await migratedClient(options.database),
    );
  }

  private constructor(private readonly db: Knex) {}

  async accept(
    delivery: PushDelivery,
    lease: Lease,
    replay?: { key: string; windowMs: number },
  ): Promise<Acceptance> {
    const now = new Date();
    return this.db.transaction(async tx => {
      // The primary key decides between replicas: only one insert of an id succeeds.
      const inserted = await tx<Row>(TABLE)
        .insert({
          id: delivery.id,
          topic: delivery.topic,
          push: JSON.stringify(delivery.push),
          status: 'pending',
          lease_owner: lease.owner,
          lease_expires_at: lease.until,
          lease_generation: 1,
          received_at: now,
          finished_at: null,
        })
        .onConflict('id')
        .ignore()
        .returning('id');
      if (inserted.length === 0) {
        return { accepted: false, reason: 'redelivery' } as const;
      }
      if (replay) {
        // So does the push key's: a concurrent insert of the same key waits for this
        // transaction, then finds the key taken. One older than the window is taken over.
        const claimed = await tx<KeyRow>(KEYS)
          .insert({
            key: replay.key,
            delivery_id: delivery.id,
            received_at: now,
          })
          .onConflict('key')
          .merge(['delivery_id', 'received_at'])
          .where(
            `${KEYS}.received_at`,
            '<=',
            new Date(now.getTime() - replay.windowMs),
          )
          .returning('key');
        if (claimed.length === 0) {
          // Kept, as done, so a redelivery of this id is recognised too.
          await tx<Row>(TABLE).where({ id: delivery.id }).update({
            status: 'done',
            finished_at: now,
            lease_owner: null,
            lease_expires_at: null,
          });
          return { accepted: false, reason: 'replay' } as const;
        }
      }
      return { accepted: true, fence: 1 } as const;
    });
  }

  async finish(held: Held) {
    const updated = await fenced(this.db(TABLE), held)
      .where({ status: 'pending' })
      .update({
        status: 'done',
        finished_at: new Date(),
        lease_owner: null,
        lease_expires_at: null,
      });
    if (updated !== 1) {
      throw new LeaseLostError(
        `Push delivery ${held.id} was adopted by another instance`,
      );
    }
  }

  async renew(held: Held, lease: Lease) {
    const kept = await renewLeases(this.db, TABLE, [held], lease);
    return kept.length === 1;
  }

  async release(held: Held, owner: string) {
    await releaseLeases(this.db, TABLE, [held], owner);
  }

  async claimAbandoned(
    lease: Lease,
    limit?: number,
  ): Promise<LeasedDelivery[]> {
    const claimed = await claimExpired(
      this.db,
      TABLE,
      query => query.where({ status: 'pending' }),
      lease,
      { orderBy: 'received_at', limit },
    );
    const fences = new Map(claimed.map(held => [held.id, held.fence]));
    const rows = await this.db<Row>(TABLE)
      .whereIn('id', [...fences.keys()])
      .orderBy('received_at');
    return rows.map(row => ({
      delivery: { id: row.id, topic: row.topic, push: JSON.parse(row.push) },
      fence: fences.get(row.id)!,
    }));
  }

  async prune(before: Date) {
    await this.db<Row>(TABLE)
      .where({ status: 'done' })
      .where('received_at', '<', before)
      .delete();
    await this.db<KeyRow>(KEYS).where('received_at', '<', before).delete();
  }
}
