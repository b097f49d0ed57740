import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseReceiverStore } from './DatabaseReceiverStore';
import { ReceiverInput } from './ReceiverStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

const receiver = (
  name: string,
  overrides: Partial<ReceiverInput> = {},
): ReceiverInput => ({
  cluster: 'dev',
  namespace: 'flux-system',
  name,
  source: { kind: 'GitRepository', name: name.replace(/^gitops-git-/, '') },
  repository: 'git:gitlab.example.com/team/delivery',
  ...overrides,
});

describe.each(databases.eachSupportedId())(
  'DatabaseReceiverStore on %p',
  databaseId => {
    async function createStore() {
      const knex = await databases.init(databaseId);
      return DatabaseReceiverStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
    }

    it('replaces one cluster at a time, keeping the trigger history of those that stay', async () => {
      const store = await createStore();
      await store.replaceCluster('dev', [
        receiver('gitops-git-a'),
        receiver('gitops-git-b'),
      ]);
      await store.replaceCluster('prod', [
        receiver('gitops-git-a', { cluster: 'prod' }),
      ]);
      await store.recordTrigger(
        { cluster: 'dev', namespace: 'flux-system', name: 'gitops-git-a' },
        {
          at: new Date('2026-11-25T10:00:00Z'),
          result: 'fallback',
          message: 'receiver answered 503',
        },
      );

      await store.replaceCluster('dev', [
        receiver('gitops-git-a', {
          repository: 'git:gitlab.example.com/team/moved',
        }),
      ]);

      expect(await store.list({ cluster: 'dev' })).toEqual([
        expect.objectContaining({
          name: 'gitops-git-a',
          repository: 'git:gitlab.example.com/team/moved',
          lastTriggeredAt: '2026-11-25T10:00:00.000Z',
          lastResult: 'fallback',
          lastMessage: 'receiver answered 503',
        }),
      ]);
      expect(
        (
          await store.list({
            repository: 'git:gitlab.example.com/team/delivery',
          })
        ).map(r => `${r.cluster}/${r.name}`),
      ).toEqual(['prod/gitops-git-a']);
      await store.replaceCluster('dev', []);
      expect((await store.list()).map(r => r.cluster)).toEqual(['prod']);
    });
  },
);
