import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { Knex } from 'knex';

/** The plugin's knex migrations, one directory for every store. */
export const migrationsDir = resolvePackagePath(
  '@backstage-gitops/plugin-gitops-backend',
  'migrations',
);

/** The plugin's database client, migrated to the latest schema unless the app skips it. */
export async function migratedClient(database: DatabaseService): Promise<Knex> {
  const client = await database.getClient();
  if (!database.migrations?.skip) {
    await client.migrate.latest({ directory: migrationsDir });
  }
  return client;
}

/** SQLite returns timestamps as strings, PostgreSQL as Dates: both become ISO strings. */
export function toIso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
