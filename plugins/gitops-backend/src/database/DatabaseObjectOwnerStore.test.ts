import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseObjectOwnerStore } from './DatabaseObjectOwnerStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const source = {
  cluster: 'dev',
  kind: 'GitRepository',
  namespace: 'team-apps',
  name: 'shop',
};
const kustomization = { ...source, kind: 'Kustomization' };
const secret = { ...source, kind: 'Secret', name: 'shop-auth' };

describe.each(databases.eachSupportedId())(
  'DatabaseObjectOwnerStore on %p',
  databaseId => {
    async function store() {
      const knex = await databases.init(databaseId);
      return DatabaseObjectOwnerStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
    }

    it('records one owner per object, all or nothing', async () => {
      const owners = await store();
      const apps = { entityRef: 'component:default/shop', createdBy: 'user:a' };
      const payments = {
        entityRef: 'component:default/payments',
        createdBy: 'user:b',
      };

      expect(await owners.claim([source, kustomization], apps)).toEqual({
        conflicts: [],
        claimed: [source, kustomization],
      });
      // Claimed again by the same entity (a retried bootstrap): nothing new.
      expect(await owners.claim([source, kustomization, secret], apps)).toEqual(
        { conflicts: [], claimed: [secret] },
      );

      // Another entity gets the owners back and records nothing, not even the free one.
      const free = { ...source, name: 'free' };
      const refused = await owners.claim([free, kustomization], payments);
      expect(refused.claimed).toEqual([]);
      expect(refused.conflicts).toEqual([
        expect.objectContaining({
          ...kustomization,
          entityRef: 'component:default/shop',
          createdBy: 'user:a',
        }),
      ]);
      expect(await owners.ownersOf([free])).toEqual([]);

      // Only the owner releases.
      await owners.release([source], payments.entityRef);
      expect(await owners.ownersOf([source])).toHaveLength(1);
      await owners.release([source, secret], apps.entityRef);
      expect(
        (await owners.ownersOf([source, kustomization, secret])).map(
          o => o.kind,
        ),
      ).toEqual(['Kustomization']);
    });

    it('lets one of two concurrent claims of an object win', async () => {
      const owners = await store();
      const results = await Promise.allSettled([
        owners.claim([source], {
          entityRef: 'component:default/a',
          createdBy: 'a',
        }),
        owners.claim([source], {
          entityRef: 'component:default/b',
          createdBy: 'b',
        }),
      ]);
      const won = results.filter(
        r => r.status === 'fulfilled' && r.value.claimed.length === 1,
      );
      expect(won).toHaveLength(1);
      expect(await owners.ownersOf([source])).toHaveLength(1);
    });
  },
);
