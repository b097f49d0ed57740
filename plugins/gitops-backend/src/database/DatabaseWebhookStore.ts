import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { GitHostKind } from '../gitHosts';
import { migratedClient, toIso } from './migrations';
import { RegisteredWebhook, WebhookStore } from './WebhookStore';

const TABLE = 'gitops_webhooks';

interface Row {
  repository: string;
  host_kind: string;
  hook_id: string;
  url: string;
  secret_digest: string;
  created_at: Date | string;
  updated_at: Date | string;
  verified_at: Date | string;
}

function fromRow(row: Row): RegisteredWebhook {
  return {
    repository: row.repository,
    hostKind: row.host_kind as GitHostKind,
    hookId: row.hook_id,
    url: row.url,
    secretDigest: row.secret_digest,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    verifiedAt: toIso(row.verified_at),
  };
}

/** The knex implementation of {@link WebhookStore} (SQLite and PostgreSQL). */
export class DatabaseWebhookStore implements WebhookStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseWebhookStore> {
    return new DatabaseWebhookStore(await migratedClient(options.database));
  }

  private constructor(private readonly db: Knex) {}

  async list() {
    return (await this.db<Row>(TABLE).orderBy('repository')).map(fromRow);
  }

  async upsert(
    webhook: Pick<
      RegisteredWebhook,
      'repository' | 'hostKind' | 'hookId' | 'url' | 'secretDigest'
    >,
  ) {
    const now = new Date();
    const fields = {
      host_kind: webhook.hostKind,
      hook_id: webhook.hookId,
      url: webhook.url,
      secret_digest: webhook.secretDigest,
      verified_at: now,
    };
    await this.db<Row>(TABLE)
      .insert({
        repository: webhook.repository,
        ...fields,
        created_at: now,
        updated_at: now,
      })
      .onConflict('repository')
      .merge({ ...fields, updated_at: now });
  }

  async delete(repository: string) {
    await this.db<Row>(TABLE).where({ repository }).delete();
  }
}
