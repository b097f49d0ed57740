import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { claimExpired, Lease } from './leases';
import { migratedClient } from './migrations';
import { PushDelivery, PushDeliveryStore } from './PushDeliveryStore';

const TABLE = 'gitops_push_deliveries';

interface Row {
  id: string;
  topic: string;
  push: string;
  status: 'pending' | 'done';
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  received_at: Date | string;
  finished_at: Date | string | null;
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

  async accept(delivery: PushDelivery, lease: Lease) {
    // The primary key decides between replicas: only one insert of an id succeeds.
    const inserted = await this.db<Row>(TABLE)
      .insert({
        id: delivery.id,
        topic: delivery.topic,
        push: JSON.stringify(delivery.push),
        status: 'pending',
        lease_owner: lease.owner,
        lease_expires_at: lease.until,
        received_at: new Date(),
        finished_at: null,
      })
      .onConflict('id')
      .ignore()
      .returning('id');
    return inserted.length === 1;
  }

  async finish(id: string) {
    await this.db<Row>(TABLE).where({ id }).update({
      status: 'done',
      finished_at: new Date(),
      lease_owner: null,
      lease_expires_at: null,
    });
  }

  async claimAbandoned(lease: Lease) {
    const ids = await claimExpired(
      this.db,
      TABLE,
      query => query.where({ status: 'pending' }),
      lease,
    );
    const rows = await this.db<Row>(TABLE)
      .whereIn('id', ids)
      .orderBy('received_at');
    return rows.map(row => ({
      id: row.id,
      topic: row.topic,
      push: JSON.parse(row.push),
    }));
  }

  async prune(before: Date) {
    await this.db<Row>(TABLE)
      .where({ status: 'done' })
      .where('received_at', '<', before)
      .delete();
  }
}
