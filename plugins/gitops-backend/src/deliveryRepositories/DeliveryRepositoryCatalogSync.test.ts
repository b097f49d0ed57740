import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { DatabaseDeliveryRepositoryStore } from '../database/DatabaseDeliveryRepositoryStore';
import {
  DeliveryRepositoryCatalogSync,
  readSyncFrequency,
} from './DeliveryRepositoryCatalogSync';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });

function component(
  name: string,
  annotations: Record<string, string> = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default', annotations },
    spec: { type: 'service', owner: 'team', lifecycle: 'production' },
  };
}

const DELIVERY = 'https://gitlab.example.com/team/delivery.git';

describe.each(databases.eachSupportedId())(
  'DeliveryRepositoryCatalogSync on %p',
  databaseId => {
    async function setup() {
      const knex = await databases.init(databaseId);
      const store = await DatabaseDeliveryRepositoryStore.create({
        database: mockServices.database.mock({ getClient: async () => knex }),
      });
      const logger = mockServices.logger.mock();
      const syncWith = (entities: Entity[]) =>
        new DeliveryRepositoryCatalogSync(
          catalogServiceMock({ entities }),
          mockServices.auth(),
          store,
          logger,
        ).run();
      return { store, logger, syncWith };
    }

    it('registers what the annotations declare and skips bad URLs with a warning', async () => {
      const { store, logger, syncWith } = await setup();
      await store.upsert({
        entityRef: 'component:default/podinfo',
        url: 'https://gitlab.example.com/team/other',
        origin: 'api',
      });

      await syncWith([
        component('podinfo', {
          'gitops.backstage.io/delivery-repositories': ` ${DELIVERY}, oci://registry.example.com/team/podinfo ,not a url`,
          'gitops.backstage.io/delivery-path': './apps/podinfo/',
          'gitops.backstage.io/delivery-ref': 'main',
          'gitops.backstage.io/clusters': 'prod, dev',
        }),
        component('plain'),
      ]);

      const entries = await store.list({
        entityRef: 'component:default/podinfo',
      });
      expect(
        entries.map(({ url, kind, ref, path, clusters, origin }) => ({
          url,
          kind,
          ref,
          path,
          clusters,
          origin,
        })),
      ).toEqual([
        {
          url: DELIVERY,
          kind: 'git',
          ref: 'main',
          path: 'apps/podinfo',
          clusters: ['dev', 'prod'],
          origin: 'annotation',
        },
        {
          url: 'https://gitlab.example.com/team/other',
          kind: 'git',
          ref: undefined,
          path: undefined,
          clusters: undefined,
          origin: 'api',
        },
        {
          url: 'oci://registry.example.com/team/podinfo',
          kind: 'oci',
          ref: 'main',
          path: 'apps/podinfo',
          clusters: ['dev', 'prod'],
          origin: 'annotation',
        },
      ]);
      expect(
        await store.list({ entityRef: 'component:default/plain' }),
      ).toEqual([]);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /"not a url" of component:default\/podinfo: .*Invalid delivery repository URL/,
        ),
      );
    });

    it('follows changed, removed and vanished annotations and leaves api entries alone', async () => {
      const { store, syncWith } = await setup();
      await syncWith([
        component('podinfo', {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
        }),
        component('payments', {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
        }),
        component('storefront', {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
        }),
      ]);
      const [kept] = await store.list({
        entityRef: 'component:default/podinfo',
      });
      const api = await store.upsert({
        entityRef: 'component:default/storefront',
        url: 'oci://registry.example.com/team/storefront',
        origin: 'api',
      });

      await syncWith([
        component('podinfo', {
          'gitops.backstage.io/delivery-repositories': `${DELIVERY},ssh://git@gitlab.example.com/team/extra.git`,
        }),
        component('payments'),
      ]);

      const all = await store.list();
      expect(all.map(e => [e.entityRef, e.url, e.origin])).toEqual([
        ['component:default/podinfo', DELIVERY, 'annotation'],
        [
          'component:default/podinfo',
          'ssh://git@gitlab.example.com/team/extra.git',
          'annotation',
        ],
        [
          'component:default/storefront',
          'oci://registry.example.com/team/storefront',
          'api',
        ],
      ]);
      // An unchanged annotation keeps its entry (and id) rather than re-creating it.
      expect(all[0].id).toBe(kept.id);
      expect(all[2]).toEqual(api);
    });

    it('skips an entity whose annotated path leaves the repository without failing the others', async () => {
      const { store, logger, syncWith } = await setup();
      await syncWith([
        component('bad', {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
          'gitops.backstage.io/delivery-path': '../outside',
        }),
        component('good', {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
        }),
      ]);
      expect((await store.list()).map(e => e.entityRef)).toEqual([
        'component:default/good',
      ]);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /component:default\/bad: .*inside the repository/,
        ),
      );
    });

    it('brings one entity in step when it is read, writing only when its annotations changed', async () => {
      const { store, logger } = await setup();
      const sync = new DeliveryRepositoryCatalogSync(
        catalogServiceMock({ entities: [] }),
        mockServices.auth(),
        store,
        logger,
      );
      const api = await store.upsert({
        entityRef: 'component:default/podinfo',
        url: 'oci://registry.example.com/team/podinfo',
        origin: 'api',
      });
      const annotated = (value: string, path = './apps/podinfo/') =>
        component('podinfo', {
          'gitops.backstage.io/delivery-repositories': value,
          'gitops.backstage.io/delivery-path': path,
          'gitops.backstage.io/clusters': 'prod,dev',
        });

      // Before any round of the sync has seen the annotation.
      const first = await sync.listForEntity(annotated(DELIVERY));
      expect(first.map(e => [e.url, e.path, e.clusters, e.origin])).toEqual([
        [DELIVERY, 'apps/podinfo', ['dev', 'prod'], 'annotation'],
        [api.url, undefined, undefined, 'api'],
      ]);

      // Unchanged annotations: the same rows, not rewritten.
      const replaceAnnotated = jest.spyOn(store, 'replaceAnnotated');
      expect(await sync.listForEntity(annotated(` ${DELIVERY} `))).toEqual(
        first,
      );
      expect(replaceAnnotated).not.toHaveBeenCalled();

      // The annotation dropped: only the api entry is left.
      expect(await sync.listForEntity(component('podinfo'))).toEqual([api]);

      // A path the store refuses: what is stored is returned, nothing written.
      expect(
        await sync.listForEntity(annotated(DELIVERY, '../outside')),
      ).toEqual([api]);
      expect(replaceAnnotated).toHaveBeenCalledTimes(1);
    });

    it('pages through the catalog', async () => {
      const { store, syncWith } = await setup();
      const entities = Array.from({ length: 501 }, (_, i) =>
        component(`service-${String(i).padStart(3, '0')}`, {
          'gitops.backstage.io/delivery-repositories': DELIVERY,
        }),
      );
      await syncWith(entities);
      expect(await store.list()).toHaveLength(501);
    });
  },
);

describe('DeliveryRepositoryCatalogSync', () => {
  it('removes nothing when the catalog cannot be read', async () => {
    const store = {
      list: jest.fn(),
      get: jest.fn(),
      upsert: jest.fn(),
      delete: jest.fn(),
      replaceAnnotated: jest.fn(),
    };
    const catalog = catalogServiceMock.mock({
      queryEntities: async () => {
        throw new Error('catalog down');
      },
    });
    const sync = new DeliveryRepositoryCatalogSync(
      catalog,
      mockServices.auth(),
      store,
      mockServices.logger.mock(),
    );
    await expect(sync.run()).rejects.toThrow('catalog down');
    expect(store.replaceAnnotated).not.toHaveBeenCalled();
  });

  it('schedules itself globally, every minute unless configured', async () => {
    const scheduler = mockServices.scheduler.mock();
    const store = {
      list: jest.fn(async () => []),
      get: jest.fn(),
      upsert: jest.fn(),
      delete: jest.fn(),
      replaceAnnotated: jest.fn(),
    };
    await DeliveryRepositoryCatalogSync.create({
      config: mockServices.rootConfig(),
      logger: mockServices.logger.mock(),
      scheduler,
      catalog: catalogServiceMock({
        entities: [
          component('podinfo', {
            'gitops.backstage.io/delivery-repositories': DELIVERY,
          }),
        ],
      }),
      auth: mockServices.auth(),
      store,
    });
    expect(scheduler.scheduleTask).toHaveBeenCalledWith(
      expect.objectContaining({
        id: 'gitops-delivery-repositories-catalog-sync',
        scope: 'global',
        frequency: { minutes: 1 },
      }),
    );
    await scheduler.scheduleTask.mock.calls[0][0].fn(
      new AbortController().signal,
    );
    expect(store.replaceAnnotated).toHaveBeenCalledWith(
      'component:default/podinfo',
      [expect.objectContaining({ url: DELIVERY, origin: 'annotation' })],
    );
  });

  it.each([
    ['5m', { minutes: 5 }],
    ['PT30S', { seconds: 30 }],
    [{ hours: 1 }, { hours: 1 }],
    ['*/10 * * * *', { cron: '*/10 * * * *' }],
  ])('reads the sync frequency %p', (value, expected) => {
    const config = mockServices.rootConfig({
      data: { gitops: { deliveryRepositories: { syncFrequency: value } } },
    });
    expect(readSyncFrequency(config)).toEqual(expected);
  });

  it('rejects a malformed sync frequency', () => {
    const config = mockServices.rootConfig({
      data: { gitops: { deliveryRepositories: { syncFrequency: 'often' } } },
    });
    expect(() => readSyncFrequency(config)).toThrow(
      /gitops\.deliveryRepositories\.syncFrequency/,
    );
  });
});
