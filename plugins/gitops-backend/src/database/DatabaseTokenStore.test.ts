import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseTokenStore } from './DatabaseTokenStore';
import { TokenInput } from './TokenStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const token = (
  id: string,
  overrides: Partial<TokenInput> = {},
): TokenInput => ({
  id,
  kind: 'deploy-token',
  host: 'gitlab.example.com',
  hostId: '7',
  name: 'flux-read',
  username: 'gitlab+deploy-token-7',
  scopes: ['read_repository'],
  fingerprint: `sha256:${'a'.repeat(64)}`,
  repositories: ['git:gitlab.example.com/team/delivery'],
  projects: ['team/delivery'],
  entityRefs: ['component:default/podinfo'],
  usages: [
    {
      cluster: 'dev',
      namespace: 'flux-system',
      secret: 'team-delivery-auth',
      key: 'password',
      format: 'basic-auth',
      object: { kind: 'GitRepository', name: 'team-delivery' },
      purpose: 'read',
    },
  ],
  ...overrides,
});

describe.each(databases.eachSupportedId())(
  'DatabaseTokenStore on %p',
  databaseId => {
    it('replaces the inventory, keeping when a token was rotated', async () => {
      const knex = await databases.init(databaseId);
      const store = await DatabaseTokenStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
      await store.replaceAll([token('a'), token('b', { kind: 'unknown' })]);
      await store.recordRotation('a', new Date('2026-11-20T10:00:00Z'));
      const after = await store.replaceAll([
        token('a', { scopes: ['read_repository', 'read_registry'] }),
      ]);
      expect(after).toEqual([
        {
          ...token('a', { scopes: ['read_repository', 'read_registry'] }),
          lastRotatedAt: '2026-11-20T10:00:00.000Z',
          lastSeenAt: expect.any(String),
        },
      ]);
      expect(await store.get('b')).toBeUndefined();
      expect(await store.get('a')).toEqual(after[0]);
    });

    it('replaces the unreadable Secrets of the scanned clusters only', async () => {
      const knex = await databases.init(databaseId);
      const store = await DatabaseTokenStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
      const unreadable = (cluster: string, secret: string) => ({
        cluster,
        namespace: 'team-a',
        secret,
        usedBy: [{ kind: 'GitRepository', name: 'apps' }],
        reason: 'forbidden',
      });
      await store.replaceUnreadable(
        ['dev', 'prod'],
        [unreadable('dev', 'apps-auth'), unreadable('prod', 'apps-auth')],
      );
      // dev was scanned again and its Secret is readable now; prod could not be read.
      await store.replaceUnreadable(['dev'], [unreadable('dev', 'other-auth')]);
      expect(await store.listUnreadable()).toEqual([
        { ...unreadable('dev', 'other-auth'), lastSeenAt: expect.any(String) },
        { ...unreadable('prod', 'apps-auth'), lastSeenAt: expect.any(String) },
      ]);
      await store.replaceUnreadable(['dev', 'prod'], []);
      expect(await store.listUnreadable()).toEqual([]);
    });
  },
);
