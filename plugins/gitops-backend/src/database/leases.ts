import { Knex } from 'knex';

/** Who holds a piece of work, and until when (renewed while it runs). */
export interface Lease {
  owner: string;
  until: Date;
}

/**
 * A leased row as its holder knows it: the row's id and the generation of the lease it
 * took (the fencing token). Each take-over increments the generation, so a write
 * conditional on it fails once another instance adopted the row, however late the
 * stale holder's write arrives.
 */
export interface Held {
  id: string;
  fence: number;
}

/** A write under a lease another instance took over (the stale holder must stop). */
export class LeaseLostError extends Error {
  name = 'LeaseLostError' as const;
}

/** The columns a leased row carries. */
interface LeaseColumns {
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  lease_generation: number;
}

/** The row `held` names, only while its lease is still at that generation. */
export function fenced(query: Knex.QueryBuilder, held: Held) {
  return query.where({ id: held.id, lease_generation: held.fence });
}

/**
 * Takes the lease of every row matching `unfinished` whose lease is missing or ran out,
 * one update per row conditional on the generation read, so two replicas never both
 * win one; returns the rows taken with their new generation, oldest first by
 * `options.orderBy`, at most `options.limit`.
 */
export async function claimExpired(
  db: Knex,
  table: string,
  unfinished: (query: Knex.QueryBuilder) => Knex.QueryBuilder,
  lease: Lease,
  options: { orderBy: string; limit?: number },
): Promise<Held[]> {
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  const now = new Date();
  const expired = (query: Knex.QueryBuilder) =>
    query.where(q =>
      q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<=', now),
    );
  const candidates: Array<{ id: string; lease_generation: number }> =
    await expired(unfinished(db(table)))
      .orderBy([options.orderBy, 'id'])
      .select('id', 'lease_generation');
  const claimed: Held[] = [];
  for (const { id, lease_generation: generation } of candidates) {
    if (claimed.length >= limit) break;
    const updated = await expired(
      unfinished(db(table)).where({ id, lease_generation: generation }),
    ).update({
      lease_owner: lease.owner,
      lease_expires_at: lease.until,
      lease_generation: generation + 1,
    } satisfies LeaseColumns);
    if (updated === 1) claimed.push({ id, fence: generation + 1 });
  }
  return claimed;
}

/**
 * Extends the leases `owner` still holds among `held`; answers the ids it holds, which
 * leaves out those another instance took over (or that were finished).
 */
export async function renewLeases(
  db: Knex,
  table: string,
  held: Held[],
  lease: Lease,
): Promise<string[]> {
  const kept: string[] = [];
  for (const one of held) {
    const updated = await fenced(db(table), one)
      .where({ lease_owner: lease.owner })
      .update({ lease_expires_at: lease.until });
    if (updated === 1) kept.push(one.id);
  }
  return kept;
}

/** Ends the leases `owner` holds among `held` now, so another replica adopts them at once. */
export async function releaseLeases(
  db: Knex,
  table: string,
  held: Held[],
  owner: string,
): Promise<void> {
  for (const one of held) {
    await fenced(db(table), one)
      .where({ lease_owner: owner })
      .update({ lease_expires_at: new Date() });
  }
}
