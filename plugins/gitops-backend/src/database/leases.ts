import { Knex } from 'knex';

/** Who holds a piece of work, and until when (renewed while it runs). */
export interface Lease {
  owner: string;
  until: Date;
}

/** The columns a leased row carries. */
interface LeaseColumns {
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
}

/**
 * Takes the lease of every row matching `unfinished` whose lease is missing or ran out,
 * one conditional update per row so two replicas never both win one; returns the ids
 * taken.
 */
export async function claimExpired(
  db: Knex,
  table: string,
  unfinished: (query: Knex.QueryBuilder) => Knex.QueryBuilder,
  lease: Lease,
): Promise<string[]> {
  const now = new Date();
  const expired = (query: Knex.QueryBuilder) =>
    query.where(q =>
      q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<=', now),
    );
  const candidates: string[] = await expired(unfinished(db(table)))
    .orderBy('id')
    .pluck('id');
  const claimed: string[] = [];
  for (const id of candidates) {
    const updated = await expired(unfinished(db(table)).where({ id })).update({
      lease_owner: lease.owner,
      lease_expires_at: lease.until,
    } satisfies LeaseColumns);
    if (updated === 1) claimed.push(id);
  }
  return claimed;
}

/** Extends the leases `owner` holds on `ids`. */
export async function renewLeases(
  db: Knex,
  table: string,
  ids: string[],
  lease: Lease,
): Promise<void> {
  if (ids.length === 0) return;
  await db(table)
    .whereIn('id', ids)
    .where({ lease_owner: lease.owner })
    .update({ lease_expires_at: lease.until });
}

/** Ends the leases `owner` holds on `ids` now, so another replica adopts them at once. */
export async function releaseLeases(
  db: Knex,
  table: string,
  ids: string[],
  owner: string,
): Promise<void> {
  if (ids.length === 0) return;
  await db(table)
    .whereIn('id', ids)
    .where({ lease_owner: owner })
    .update({ lease_expires_at: new Date() });
}
