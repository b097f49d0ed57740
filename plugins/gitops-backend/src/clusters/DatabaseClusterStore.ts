import { DatabaseService } from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';
import { Knex } from 'knex';
import { migratedClient } from '../database/migrations';

const TABLE = 'gitops_clusters';

/** A runtime-registered cluster as stored: the token only as ciphertext. */
export interface StoredCluster {
  name: string;
  url: string;
  caData?: string;
  skipTLSVerify: boolean;
  tokenCiphertext: string;
  settings: { fluxNamespace?: string; receiverUrl?: string };
  createdBy?: string;
  createdAt: string;
}

interface Row {
  name: string;
  url: string;
  ca_data: string | null;
  skip_tls_verify: boolean | number;
  token_ciphertext: string;
  settings: string;
  created_by: string | null;
  created_at: Date | string;
}

function fromRow(row: Row): StoredCluster {
  return {
    name: row.name,
    url: row.url,
    ...(row.ca_data ? { caData: row.ca_data } : {}),
    skipTLSVerify: Boolean(row.skip_tls_verify),
    tokenCiphertext: row.token_ciphertext,
    settings: JSON.parse(row.settings),
    ...(row.created_by ? { createdBy: row.created_by } : {}),
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/** The `gitops_clusters` table (SQLite and PostgreSQL). */
export class DatabaseClusterStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseClusterStore> {
    const client = await migratedClient(options.database);
    return new DatabaseClusterStore(client);
  }

  private constructor(private readonly db: Knex) {}

  async list(): Promise<StoredCluster[]> {
    return (await this.db<Row>(TABLE).orderBy('name')).map(fromRow);
  }

  /** Throws ConflictError when the name is taken. */
  async insert(cluster: StoredCluster): Promise<void> {
    const inserted = await this.db<Row>(TABLE)
      .insert({
        name: cluster.name,
        url: cluster.url,
        ca_data: cluster.caData ?? null,
        skip_tls_verify: cluster.skipTLSVerify,
        token_ciphertext: cluster.tokenCiphertext,
        settings: JSON.stringify(cluster.settings),
        created_by: cluster.createdBy ?? null,
        created_at: new Date(cluster.createdAt),
      })
      .onConflict('name')
      .ignore()
      .returning('name');
    if (inserted.length === 0) {
      throw new ConflictError(`Cluster "${cluster.name}" already exists`);
    }
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db<Row>(TABLE).where({ name }).delete()) > 0;
  }
}
