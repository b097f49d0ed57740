import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
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
});
