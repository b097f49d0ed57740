import { DatabaseService } from '@backstage/backend-plugin-api';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { Knex } from 'knex';
import { migratedClient, toIso } from './migrations';
import { ReceiverInput, ReceiverKey, ReceiverStore } from './ReceiverStore';

const TABLE = 'gitops_receivers';

interface Row {
  cluster: string;
  namespace: string;
  name: string;
  source_kind: string;
  source_name: string;
  repository: string;
  created_at: Date | string;
  updated_at: Date | string;
  last_triggered_at: Date | string | null;
  last_result: string | null;
  last_message: string | null;
}

function fromRow(row: Row): ManagedReceiver {
  return {
    cluster: row.cluster,
    namespace: row.namespace,
    name: row.name,
    source: {
      kind: row.source_kind as ManagedReceiver['source']['kind'],
      name: row.source_name,
    },
    repository: row.repository,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    ...(row.last_triggered_at
      ? { lastTriggeredAt: toIso(row.last_triggered_at) }
      : {}),
    ...(row.last_result
      ? { lastResult: row.last_result as ManagedReceiver['lastResult'] }
      : {}),
    ...(row.last_message ? { lastMessage: row.last_message } : {}),
  };
}

const keyOf = (r: ReceiverKey) => `${r.namespace}/${r.name}`;

/** The knex implementation of {@link ReceiverStore} (SQLite and PostgreSQL). */
export class DatabaseReceiverStore implements ReceiverStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseReceiverStore> {
    return new DatabaseReceiverStore(await migratedClient(options.database));
  }

  private constructor(private readonly db: Knex) {}

  async list(filter: { cluster?: string; repository?: string } = {}) {
    const query = this.db<Row>(TABLE).orderBy(['cluster', 'namespace', 'name']);
    if (filter.cluster) query.where('cluster', filter.cluster);
    if (filter.repository) query.where('repository', filter.repository);
    return (await query).map(fromRow);
  }

  async replaceCluster(cluster: string, receivers: ReceiverInput[]) {
    const now = new Date();
    await this.db.transaction(async tx => {
      const existing = new Map(
        (await tx<Row>(TABLE).where({ cluster })).map(row => [keyOf(row), row]),
      );
      const kept = new Set<string>();
      for (const receiver of receivers) {
        const key = keyOf(receiver);
        kept.add(key);
        const fields = {
          source_kind: receiver.source.kind,
          source_name: receiver.source.name,
          repository: receiver.repository,
        };
        const row = existing.get(key);
        if (!row) {
          await tx<Row>(TABLE).insert({
            cluster,
            namespace: receiver.namespace,
            name: receiver.name,
            ...fields,
            created_at: now,
            updated_at: now,
            last_triggered_at: null,
            last_result: null,
            last_message: null,
          });
        } else if (
          row.source_kind !== fields.source_kind ||
          row.source_name !== fields.source_name ||
          row.repository !== fields.repository
        ) {
          await tx<Row>(TABLE)
            .where({ cluster, namespace: row.namespace, name: row.name })
            .update({ ...fields, updated_at: now });
        }
      }
      for (const [key, row] of existing) {
        if (!kept.has(key)) {
          await tx<Row>(TABLE)
            .where({ cluster, namespace: row.namespace, name: row.name })
            .delete();
        }
      }
    });
  }

  async recordTrigger(
    key: ReceiverKey,
    result: {
      at: Date;
      result: NonNullable<ManagedReceiver['lastResult']>;
      message?: string;
    },
  ) {
    await this.db<Row>(TABLE)
      .where({ cluster: key.cluster, namespace: key.namespace, name: key.name })
      .update({
        last_triggered_at: result.at,
        last_result: result.result,
        last_message: result.message ?? null,
      });
  }
}
