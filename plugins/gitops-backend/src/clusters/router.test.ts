import { MiddlewareFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import request from 'supertest';
import { DefaultClusterRegistry } from './ClusterRegistry';
import {
  ClusterHealth,
  ClusterHealthSource,
  createClusterRoutes,
} from './router';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

/** A stand-in for the watch caches' health: not a Kubernetes client. */
const health: ClusterHealthSource = {
  health: (name): ClusterHealth =>
    name === 'dev'
      ? {
          connected: true,
          stale: false,
          servedFluxVersions: { GitRepository: 'source.toolkit.fluxcd.io/v1' },
          cachedObjects: 12,
          lastEventAt: '2026-01-01T00:00:00.000Z',
        }
      : {
          connected: false,
          stale: true,
          servedFluxVersions: {},
          cachedObjects: 0,
          lastError: {
            message: 'connect ECONNREFUSED',
            at: '2026-01-01T00:00:00.000Z',
          },
          staleSince: '2026-01-01T00:00:00.000Z',
        },
};

async function createApp(options: {
  result: AuthorizeResult.ALLOW | AuthorizeResult.DENY;
  encryptionSecret?: string;
}) {
  const config = new ConfigReader({
    kubernetes: {
      clusterLocatorMethods: [
        {
          type: 'config',
          clusters: [
            {
              name: 'dev',
              url: 'https://dev.example.com',
              authProvider: 'serviceAccount',
              serviceAccountToken: 'dev-config-token',
            },
          ],
        },
      ],
    },
    gitops: options.encryptionSecret
      ? { encryptionSecret: options.encryptionSecret }
      : {},
  });
  const logger = mockServices.logger.mock();
  const knex = await databases.init('SQLITE_3');
  const registry = await DefaultClusterRegistry.create({
    config,
    logger,
    database: mockServices.database.mock({ getClient: async () => knex }),
  });
  const app = express();
  app.use(
    createClusterRoutes({
      registry,
      health,
      httpAuth: mockServices.httpAuth(),
      permissions: mockServices.permissions({ result: options.result }),
    }),
  );
  app.use(MiddlewareFactory.create({ config, logger }).error());
  return { app, knex };
}

const SECRET = 'an-encryption-secret-of-32-chars!';
const lab = {
  name: 'lab',
  url: 'https://lab.example.com',
  token: 'lab-secret-token',
};

describe('cluster routes', () => {
  it('lists clusters with settings and health, never the token', async () => {
    const { app } = await createApp({ result: AuthorizeResult.ALLOW });
    const res = await request(app).get('/clusters');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      totalItems: 1,
      items: [
        {
          name: 'dev',
          url: 'https://dev.example.com',
          source: 'config',
          skipTLSVerify: false,
          settings: {
            fluxNamespace: 'flux-system',
            trustedServiceProxyPaths: [],
          },
          health: {
            connected: true,
            stale: false,
            servedFluxVersions: {
              GitRepository: 'source.toolkit.fluxcd.io/v1',
            },
            cachedObjects: 12,
            lastEventAt: '2026-01-01T00:00:00.000Z',
          },
        },
      ],
    });
    expect(res.text).not.toContain('dev-config-token');
  });

  it('registers and removes a cluster for an allowed admin', async () => {
    const { app, knex } = await createApp({
      result: AuthorizeResult.ALLOW,
      encryptionSecret: SECRET,
    });
    const created = await request(app).post('/clusters').send(lab);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'lab',
      source: 'api',
      health: { connected: false },
    });
    expect(created.text).not.toContain('lab-secret-token');
    expect(
      JSON.stringify(await knex('gitops_clusters').select()),
    ).not.toContain('lab-secret-token');
    expect(
      (await request(app).get('/clusters')).body.items.map(
        (c: { name: string }) => c.name,
      ),
    ).toEqual(['dev', 'lab']);

    expect((await request(app).post('/clusters').send(lab)).status).toBe(409);
    expect(
      (
        await request(app)
          .post('/clusters')
          .send({ ...lab, name: 'dev' })
      ).status,
    ).toBe(409);
    expect((await request(app).delete('/clusters/dev')).status).toBe(409);
    expect((await request(app).delete('/clusters/lab')).status).toBe(204);
    expect((await request(app).delete('/clusters/lab')).status).toBe(404);
  });

  it('validates the body', async () => {
    const { app } = await createApp({
      result: AuthorizeResult.ALLOW,
      encryptionSecret: SECRET,
    });
    const ftp = await request(app)
      .post('/clusters')
      .send({ ...lab, url: 'ftp://lab.example.com' });
    expect(ftp.status).toBe(400);
    expect(ftp.body.error.message).toMatch(/url: must be an http\(s\) URL/);
    expect(
      (await request(app).post('/clusters').send({ name: 'lab' })).status,
    ).toBe(400);
    expect(
      (
        await request(app)
          .post('/clusters')
          .send({ ...lab, name: 'Bad Name' })
      ).status,
    ).toBe(400);
  });

  it('answers 403 when the permission is denied, and changes nothing', async () => {
    const { app, knex } = await createApp({
      result: AuthorizeResult.DENY,
      encryptionSecret: SECRET,
    });
    expect((await request(app).post('/clusters').send(lab)).status).toBe(403);
    expect((await request(app).delete('/clusters/dev')).status).toBe(403);
    expect(await knex('gitops_clusters').select()).toEqual([]);
    const list = await request(app).get('/clusters');
    expect(list.status).toBe(403);
    expect(list.body.error.message).toMatch(/gitops\.cluster\.read/);
  });

  it('answers 503 with the reason when no encryption secret is configured', async () => {
    const { app } = await createApp({ result: AuthorizeResult.ALLOW });
    const res = await request(app).post('/clusters').send(lab);
    expect(res.status).toBe(503);
    expect(res.body.error.message).toMatch(/gitops\.encryptionSecret/);
  });
});
