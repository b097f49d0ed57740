import { DatabaseService } from '@backstage/backend-plugin-api';
import { randomUUID } from 'crypto';
import { Knex } from 'knex';
import { LeaseLostError } from './leases';
import { HeldLock, LockStore } from './LockStore';
import { migratedClient } from './migrations';

const TABLE = 'gitops_locks';

interface Row {
  name: string;
  owner: string;
  expires_at: Date | string | number;
  generation: number;
}

/**
 * The knex implementation of {@link LockStore} (SQLite and PostgreSQL): a row per lock,
 * taken by insert or by an update of an expired one conditional on the generation read
 * (which it increments), so a holder that died does not block the others for longer
 * than `ttlMs`, and one that stalled past it finds out before its next side effect. A
 * released lock's row stays, expired, so the generation never goes back.
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

  async runExclusively<T>(name: string, work: (lock: HeldLock) => Promise<T>) {
    // One holder per name and call, even within one instance.
    const owner = `${this.instanceId}/${randomUUID()}`;
    const generation = await this.acquire(name, owner);
    if (generation === undefined) return undefined;
    const held = { name, owner, generation };
    const lost = new AbortController();
    const renew = async () => {
      if (!(await this.renew(held))) {
        const error = new LeaseLostError(
          `The lock ${name} was taken over by another holder`,
        );
        lost.abort(error);
        throw error;
      }
    };
    const renewal = setInterval(() => {
      renew().catch(() => {
        // Lost: the work was told; unreachable: the next renewal tries again.
      });
    }, this.ttlMs / 3).unref();
    const lock: HeldLock = {
      generation,
      signal: lost.signal,
      check: renew,
      whileHeld: write => this.whileHeld(held, write),
    };
    try {
      return { result: await work(lock) };
    } finally {
      clearInterval(renewal);
      await this.db<Row>(TABLE)
        .where(held)
        .update({ expires_at: new Date(0) });
    }
  }

  /** The generation taken, or undefined when the lock is someone else's. */
  private async acquire(
    name: string,
    owner: string,
  ): Promise<number | undefined> {
    const inserted = await this.db<Row>(TABLE)
      .insert({ name, owner, expires_at: this.expiry(), generation: 1 })
      .onConflict('name')
      .ignore()
      .returning('name');
    if (inserted.length === 1) return 1;
    const row = await this.db<Row>(TABLE).where({ name }).first();
    if (!row || new Date(row.expires_at).getTime() > Date.now()) {
      return undefined;
    }
    const taken = await this.db<Row>(TABLE)
      .where({ name, generation: row.generation })
      .where('expires_at', '<=', new Date())
      .update({
        owner,
        expires_at: this.expiry(),
        generation: row.generation + 1,
      });
    return taken === 1 ? row.generation + 1 : undefined;
  }

  private async renew(held: Pick<Row, 'name' | 'owner' | 'generation'>) {
    const renewed = await this.db<Row>(TABLE)
      .where(held)
      .update({ expires_at: this.expiry() });
    return renewed === 1;
  }

  private async whileHeld<T>(
    held: Pick<Row, 'name' | 'owner' | 'generation'>,
    write: () => Promise<T>,
  ): Promise<T> {
    const lost = () =>
      new LeaseLostError(
        `The lock ${held.name} was taken over by another holder`,
      );
    if (this.db.client.config.client.toString().includes('sqlite')) {
      // One connection, one writer at a time: checked, then written.
      if (!(await this.renew(held))) throw lost();
      return write();
    }
    // The row locked against a take-over (an UPDATE) until the write is done.
    return this.db.transaction(async tx => {
      const row = await tx<Row>(TABLE).where(held).forShare().first();
      if (!row) throw lost();
      return write();
    });
  }

  private expiry() {
    return new Date(Date.now() + this.ttlMs);
  }
}
