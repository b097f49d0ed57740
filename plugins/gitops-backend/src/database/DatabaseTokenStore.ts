import { DatabaseService } from '@backstage/backend-plugin-api';
import {
  TokenRecord,
  UnreadableSecret,
} from '@backstage-gitops/plugin-gitops-common';
import { Knex } from 'knex';
import { migratedClient, toIso } from './migrations';
import { TokenInput, TokenStore } from './TokenStore';

const TABLE = 'gitops_tokens';
const UNREADABLE_TABLE = 'gitops_unreadable_secrets';

interface UnreadableRow {
  cluster: string;
  namespace: string;
  secret: string;
  used_by: string;
  reason: string;
  last_seen_at: Date | string;
}

interface Row {
  id: string;
  kind: string;
  host: string | null;
  host_id: string | null;
  fingerprint: string;
  details: string;
  last_seen_at: Date | string;
  last_rotated_at: Date | string | null;
}

function toRow(token: TokenInput, seenAt: Date): Omit<Row, 'last_rotated_at'> {
  const { id, kind, host, hostId, fingerprint, ...details } = token;
  return {
    id,
    kind,
    host: host ?? null,
    host_id: hostId ?? null,
    fingerprint,
    details: JSON.stringify(details),
    last_seen_at: seenAt,
  };
}

function fromRow(row: Row): TokenRecord {
  return {
    id: row.id,
    kind: row.kind as TokenRecord['kind'],
    ...(row.host ? { host: row.host } : {}),
    ...(row.host_id ? { hostId: row.host_id } : {}),
    fingerprint: row.fingerprint,
    ...(JSON.parse(row.details) as Omit<
      TokenRecord,
      'id' | 'kind' | 'host' | 'hostId' | 'fingerprint' | 'lastSeenAt'
    >),
    lastSeenAt: toIso(row.last_seen_at),
    ...(row.last_rotated_at
      ? { lastRotatedAt: toIso(row.last_rotated_at) }
      : {}),
  };
}

/** The knex implementation of {@link TokenStore} (SQLite and PostgreSQL). */
export class DatabaseTokenStore implements TokenStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseTokenStore> {
    return new DatabaseTokenStore(await migratedClient(options.database));
  }

  private constructor(private readonly db: Knex) {}

  async list() {
    return (await this.db<Row>(TABLE).orderBy('id')).map(fromRow);
  }

  async get(id: string) {
    const row = await this.db<Row>(TABLE).where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async replaceAll(tokens: TokenInput[]) {
    const now = new Date();
    await this.db.transaction(async tx => {
      const ids = tokens.map(token => token.id);
      await tx<Row>(TABLE).whereNotIn('id', ids).delete();
      for (const token of tokens) {
        const row = toRow(token, now);
        await tx<Row>(TABLE)
          .insert({ ...row, last_rotated_at: null })
          .onConflict('id')
          .merge(row);
      }
    });
    return this.list();
  }

  async recordRotation(id: string, at: Date) {
    await this.db<Row>(TABLE).where({ id }).update({ last_rotated_at: at });
  }

  async listUnreadable(): Promise<UnreadableSecret[]> {
    const rows = await this.db<UnreadableRow>(UNREADABLE_TABLE).orderBy([
      'cluster',
      'namespace',
      'secret',
    ]);
    return rows.map(row => ({
      cluster: row.cluster,
      namespace: row.namespace,
      secret: row.secret,
      usedBy: JSON.parse(row.used_by),
      reason: row.reason,
      lastSeenAt: toIso(row.last_seen_at),
    }));
  }

  async replaceUnreadable(
    scanned: string[],
    secrets: Array<Omit<UnreadableSecret, 'lastSeenAt'>>,
  ) {
    const now = new Date();
    await this.db.transaction(async tx => {
      await tx<UnreadableRow>(UNREADABLE_TABLE)
        .whereIn('cluster', scanned)
        .delete();
      if (secrets.length > 0) {
        await tx<UnreadableRow>(UNREADABLE_TABLE).insert(
          secrets.map(secret => ({
            cluster: secret.cluster,
            namespace: secret.namespace,
            secret: secret.secret,
            used_by: JSON.stringify(secret.usedBy),
            reason: secret.reason,
            last_seen_at: now,
          })),
        );
      }
    });
  }
}
