import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { gitopsPlugin } from './plugin';

describe('gitopsPlugin', () => {
  it('answers health without credentials', async () => {
    const { server } = await startTestBackend({
      features: [gitopsPlugin],
    });
    const res = await request(server).get('/api/gitops/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('refuses other routes without credentials', async () => {
    const { server } = await startTestBackend({
      features: [gitopsPlugin, mockServices.auth.factory()],
    });
    const res = await request(server)
      .get('/api/gitops/anything')
      .set('Authorization', 'Bearer not-a-token');
    expect(res.status).toBe(401);
  });

  it('answers 413 to an oversized body, writing nothing', async () => {
    const { server } = await startTestBackend({ features: [gitopsPlugin] });
    const auth = mockCredentials.user.header();
    const res = await request(server)
      .post('/api/gitops/delivery-repositories')
      .set('Authorization', auth)
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify({
          entityRef: 'component:default/web',
          url: `https://gitlab.example.com/${'a'.repeat(200_000)}.git`,
        }),
      );
    expect(res.status).toBe(413);
    expect(res.body.error).toEqual({
      name: 'PayloadTooLargeError',
      message: 'The request body is larger than 100kb',
    });
    const listed = await request(server)
      .get('/api/gitops/delivery-repositories')
      .set('Authorization', auth);
    expect(listed.body.items).toEqual([]);
  });
});
