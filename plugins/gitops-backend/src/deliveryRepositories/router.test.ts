import { MiddlewareFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  AuthorizeResult,
  PermissionEvaluator,
} from '@backstage/plugin-permission-common';
import { NotAllowedError } from '@backstage/errors';
import express from 'express';
import request from 'supertest';
import { DatabaseDeliveryRepositoryStore } from '../database/DatabaseDeliveryRepositoryStore';
import { createDeliveryRepositoryRoutes } from './router';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

function component(name: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default' },
    spec: { type: 'service', owner: 'team', lifecycle: 'production' },
  };
}

const PODINFO = 'component:default/podinfo';
const PAYMENTS = 'component:default/payments';
const DELIVERY = 'https://gitlab.example.com/team/delivery.git';

/** The caller may do anything on `podinfo` and nothing on any other entity. */
const ownsPodinfo: PermissionEvaluator['authorize'] = async requests =>
  requests.map(r => ({
    result:
      'resourceRef' in r && r.resourceRef === PODINFO
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY,
  }));

async function setup(allowedLocalHosts: string[] = []) {
  const knex = await databases.init('SQLITE_3');
  const store = await DatabaseDeliveryRepositoryStore.create({
    database: mockServices.database.mock({ getClient: async () => knex }),
  });
  const permissions = mockServices.permissions.mock({
    authorize: jest.fn(ownsPodinfo) as any,
  });
  const app = express()
    .use(
      createDeliveryRepositoryRoutes({
        store,
        httpAuth: mockServices.httpAuth(),
        permissions,
        catalog: catalogServiceMock({
          entities: [component('podinfo'), component('payments')],
        }),
        clusters: {
          get: name => (['dev', 'prod'].includes(name) ? { name } : undefined),
        },
        allowedLocalHosts,
        access: {
          // The Git host's answer, as RepositoryAccess gives it (RepositoryAccess.test.ts).
          async requireReadable(repository) {
            if (repository.path.startsWith('other-team/')) {
              throw new NotAllowedError(
                `${repository.path} is private and guest is not a member`,
              );
            }
          },
        },
      }),
    )
    .use(
      MiddlewareFactory.create({
        config: mockServices.rootConfig(),
        logger: mockServices.logger.mock(),
      }).error(),
    );
  return { app, store, permissions };
}

describe('createDeliveryRepositoryRoutes', () => {
  it('answers a list in pages of at most 500, with the total and the next offset', async () => {
    const { app } = await setup();
    for (const path of ['apps/a', 'apps/b', 'apps/c']) {
      await request(app)
        .post('/delivery-repositories')
        .send({ entityRef: PODINFO, url: DELIVERY, path })
        .expect(201);
    }
    const first = await request(app).get('/delivery-repositories?limit=2');
    expect(first.body).toMatchObject({ totalItems: 3, nextOffset: 2 });
    expect(first.body.items).toHaveLength(2);
    const last = await request(app).get(
      '/delivery-repositories?limit=2&offset=2',
    );
    expect(last.body.items).toHaveLength(1);
    expect(last.body.nextOffset).toBeUndefined();
    expect(
      [...first.body.items, ...last.body.items].map(
        (e: { path: string }) => e.path,
      ),
    ).toEqual(['apps/a', 'apps/b', 'apps/c']);
    const tooLarge = await request(app).get('/delivery-repositories?limit=501');
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error.message).toMatch(/limit/);
  });

  it('registers a loopback URL when gitops.registration allows its host', async () => {
    const { app } = await setup(['127.0.0.1']);
    const res = await request(app).post('/delivery-repositories').send({
      entityRef: PODINFO,
      url: 'http://127.0.0.1:8080/team/delivery.git',
    });
    expect(res.status).toBe(201);
  });

  it('registers a repository for an entity the caller manages', async () => {
    const { app, store, permissions } = await setup();
    const res = await request(app)
      .post('/delivery-repositories')
      .send({
        entityRef: 'Component:default/podinfo',
        url: DELIVERY,
        ref: 'main',
        path: 'apps/podinfo/',
        clusters: ['prod', 'dev'],
      });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      entityRef: PODINFO,
      url: DELIVERY,
      kind: 'git',
      ref: 'main',
      path: 'apps/podinfo',
      clusters: ['dev', 'prod'],
      origin: 'api',
    });
    expect(await store.get(res.body.id)).toEqual(res.body);
    expect(permissions.authorize).toHaveBeenCalledWith(
      [
        {
          permission: expect.objectContaining({ name: 'gitops.entity.manage' }),
          resourceRef: PODINFO,
        },
      ],
      expect.anything(),
    );
  });

  it.each([
    [{ url: DELIVERY }, /entityRef: Required/],
    [{ entityRef: 'podinfo', url: DELIVERY }, /Invalid entityRef "podinfo"/],
    [
      { entityRef: PODINFO, url: 'ftp://example.com/x' },
      /Invalid delivery repository URL "ftp:\/\/example.com\/x"/,
    ],
    [
      { entityRef: PODINFO, url: DELIVERY, path: '../etc' },
      /Invalid path "..\/etc"/,
    ],
    [{ entityRef: PODINFO, url: DELIVERY, cluster: 'dev' }, /cluster/],
    [{ entityRef: PODINFO, url: DELIVERY, clusters: [' '] }, /clusters/],
    [
      { entityRef: PODINFO, url: DELIVERY, clusters: ['dev', 'mars'] },
      /^Invalid clusters: no cluster named "mars"$/,
    ],
    [
      { entityRef: PODINFO, url: 'http://127.0.0.1:8080/team/delivery.git' },
      /^Invalid url: host "127.0.0.1" is a loopback or link-local address .* gitops\.registration\.dangerouslyAllowHosts$/,
    ],
    [
      { entityRef: PODINFO, url: 'https://localhost/team/delivery.git' },
      /^Invalid url: host "localhost"/,
    ],
    [
      { entityRef: PODINFO, url: 'oci://169.254.169.254/latest/meta-data' },
      /^Invalid url: host "169.254.169.254" is a loopback or link-local address/,
    ],
    [
      { entityRef: PODINFO, url: 'https://[::1]/team/delivery.git' },
      /^Invalid url: host "::1"/,
    ],
  ])('answers 400 to %j and stores nothing', async (body, message) => {
    const { app, store } = await setup();
    const res = await request(app).post('/delivery-repositories').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(message),
    });
    expect(await store.list()).toEqual([]);
  });

  it('refuses, storing nothing, a repository the caller could not read on its Git host', async () => {
    const { app, store } = await setup();
    const res = await request(app).post('/delivery-repositories').send({
      entityRef: PODINFO,
      url: 'https://gitlab.example.com/other-team/private.git',
    });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(
      /other-team\/private is private and guest is not a member/,
    );
    expect(await store.list()).toEqual([]);
  });

  it('answers 404 for an entity not in the catalog and 403 without the permission', async () => {
    const { app, store } = await setup();
    const missing = await request(app)
      .post('/delivery-repositories')
      .send({ entityRef: 'component:default/ghost', url: DELIVERY });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/component:default\/ghost/);

    const denied = await request(app)
      .post('/delivery-repositories')
      .send({ entityRef: PAYMENTS, url: DELIVERY });
    expect(denied.status).toBe(403);
    expect(denied.body.error.name).toBe('NotAllowedError');
    expect(await store.list()).toEqual([]);
  });

  it('lists only what the caller may read', async () => {
    const { app, store } = await setup();
    const own = await store.upsert({
      entityRef: PODINFO,
      url: DELIVERY,
      origin: 'annotation',
    });
    await store.upsert({ entityRef: PAYMENTS, url: DELIVERY, origin: 'api' });

    const all = await request(app).get('/delivery-repositories');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ items: [own], totalItems: 1 });

    const filtered = await request(app)
      .get('/delivery-repositories')
      .query({ entityRef: 'component:podinfo' });
    expect(filtered.status).toBe(200);
    expect(filtered.body).toEqual({ items: [own], totalItems: 1 });

    const denied = await request(app)
      .get('/delivery-repositories')
      .query({ entityRef: PAYMENTS });
    expect(denied.status).toBe(403);

    const malformed = await request(app)
      .get('/delivery-repositories')
      .query({ entityRef: 'podinfo' });
    expect(malformed.status).toBe(400);
  });

  it('deletes api entries the caller manages, refuses annotation entries and others', async () => {
    const { app, store } = await setup();
    const api = await store.upsert({
      entityRef: PODINFO,
      url: DELIVERY,
      origin: 'api',
    });
    const annotated = await store.upsert({
      entityRef: PODINFO,
      url: 'oci://registry.example.com/team/podinfo',
      origin: 'annotation',
    });
    const foreign = await store.upsert({
      entityRef: PAYMENTS,
      url: DELIVERY,
      origin: 'api',
    });

    const conflict = await request(app).delete(
      `/delivery-repositories/${annotated.id}`,
    );
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(
      /change the entity's annotations/,
    );

    const denied = await request(app).delete(
      `/delivery-repositories/${foreign.id}`,
    );
    expect(denied.status).toBe(403);

    expect(
      (await request(app).delete('/delivery-repositories/nope')).status,
    ).toBe(404);

    expect(
      (await request(app).delete(`/delivery-repositories/${api.id}`)).status,
    ).toBe(204);
    expect((await store.list()).map(e => e.id).sort()).toEqual(
      [annotated.id, foreign.id].sort(),
    );
  });
});
