import { MiddlewareFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockServices } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  AuthorizeResult,
  PermissionEvaluator,
} from '@backstage/plugin-permission-common';
import express from 'express';
import request from 'supertest';
import { createStatusRoutes } from './router';
import { EntityStatus } from './types';

const PODINFO = 'component:default/podinfo';

function component(name: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default' },
    spec: { type: 'service', owner: 'team', lifecycle: 'production' },
  };
}

/** The caller may read `podinfo` and nothing else. */
const readsPodinfo: PermissionEvaluator['authorize'] = async requests =>
  requests.map(r => ({
    result:
      'resourceRef' in r &&
      r.resourceRef === PODINFO &&
      r.permission.name === 'gitops.entity.read'
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY,
  }));

function setup() {
  const getStatus = jest.fn(
    async (entityRef: string): Promise<EntityStatus> => ({
      entityRef,
      clusters: [],
      repositories: [],
    }),
  );
  const unreadable = jest.fn(async () => new Set<string>(['hidden']));
  const app = express()
    .use(
      createStatusRoutes({
        statusService: { getStatus },
        claims: { unreadable },
        catalog: catalogServiceMock({
          entities: [component('podinfo'), component('payments')],
        }),
        httpAuth: mockServices.httpAuth(),
        permissions: mockServices.permissions.mock({
          authorize: jest.fn(readsPodinfo) as any,
        }),
      }),
    )
    .use(
      MiddlewareFactory.create({
        config: mockServices.rootConfig(),
        logger: mockServices.logger.mock(),
      }).error(),
    );
  return { app, getStatus, unreadable };
}

describe('createStatusRoutes', () => {
  it('answers the status of an entity the caller may read', async () => {
    const { app, getStatus } = setup();
    const res = await request(app).get(
      '/entities/Component/default/podinfo/status',
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      entityRef: PODINFO,
      clusters: [],
      repositories: [],
    });
    expect(getStatus).toHaveBeenCalledWith(
      PODINFO,
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'podinfo' }),
      }),
      {
        viewer: expect.objectContaining({ unreadable: expect.any(Function) }),
      },
    );
  });

  it('asks, for the caller, which of the entity\u2019s objects they may not read', async () => {
    const { app, getStatus, unreadable } = setup();
    await request(app).get('/entities/component/default/podinfo/status');
    const { viewer } = (getStatus.mock.calls[0] as unknown[])[2] as {
      viewer: { unreadable(objects: unknown[]): Promise<Set<string>> };
    };
    expect(await viewer.unreadable([])).toEqual(new Set(['hidden']));
    expect(unreadable).toHaveBeenCalledWith(
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'podinfo' }),
      }),
      [],
      expect.objectContaining({
        principal: expect.objectContaining({ type: 'user' }),
      }),
    );
  });

  it('refuses without gitops.entity.read on the entity', async () => {
    const { app, getStatus } = setup();
    const res = await request(app).get(
      '/entities/component/default/payments/status',
    );
    expect(res.status).toBe(403);
    expect(res.body.error.name).toBe('NotAllowedError');
    expect(getStatus).not.toHaveBeenCalled();
  });

  it('is not found when the catalog has no such entity for the caller', async () => {
    const { app, getStatus } = setup();
    const res = await request(app).get(
      '/entities/component/default/missing/status',
    );
    expect(res.status).toBe(404);
    expect(res.body.error.name).toBe('NotFoundError');
    expect(getStatus).not.toHaveBeenCalled();
  });
});
