import { DatabaseService } from '@backstage/backend-plugin-api';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import { LockStore } from './LockStore';
import { migratedClient } from './migrations';

const TABLE = 'gitops_locks';

interface Row {
  name: string;
  owner: string;
  expires_at: Date | string;
}

/**
 * The knex implementation of {@link LockStore} (SQLite and PostgreSQL): a row per held
 * lock, taken by insert or by a conditional update of an expired one, so a holder that
 * died does not block the others for longer than `ttlMs`.
 */
export class DatabaseLockStore implements LockStore {
  static async create(options: {
    database: DatabaseService;
    /** Identifies this backend instance. Default: a random id. */
    instanceId?: string;
    /** How long a lock outlives a holder that stopped renewing it. Default 60 s. */
    ttlMs?: number;
  }): Promise<DatabaseLockStore> {
    return new DatabaseLockStore(
      await migratedClient(options.database),
      options.instanceId ?? randomUUID(),
      options.ttlMs ?? 60_000,
    );
  }

  private constructor(
    private readonly db: Knex,
    private readonly instanceId: string,
    private readonly ttlMs: number,
  ) {}

  async runExclusively<T>(name: string, work: () => Promise<T>) {
    // One holder per name and call, even within one instance.
    const owner = `${this.instanceId}/${randomUUID()}`;
    if (!(await this.acquire(name, owner))) return undefined;
    const renewal = setInterval(() => {
      this.db<Row>(TABLE)
        .where({ name, owner })
        .update({ expires_at: this.expiry() })
        .catch(() => {
          // The next renewal tries again; an expired lock is at worst taken over.
        });
    }, this.ttlMs / 3).unref();
    try {
      return { result: await work() };
    } finally {
      clearInterval(renewal);
      await this.db<Row>(TABLE).where({ name, owner }).delete();
    }
  }

  private async acquire(name: string, owner: string): Promise<boolean> {
    const inserted = await this.db<Row>(TABLE)
      .insert({ name, owner, expires_at: this.expiry() })
      .onConflict('name')
      .ignore()
      .returning('name');
    if (inserted.length === 1) return true;
    const taken = await this.db<Row>(TABLE)
      .where({ name })
      .where('expires_at', '<=', new Date())
      .update({ owner, expires_at: this.expiry() });
    return taken === 1;
  }

  private expiry() {
    return new Date(Date.now() + this.ttlMs);
  }
}
