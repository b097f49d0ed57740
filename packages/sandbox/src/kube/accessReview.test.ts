import { AuthorizationV1Api } from '@kubernetes/client-node';
import {
  kubeConfigFor,
  startTestCluster,
  TestCluster,
} from './__testUtils__/cluster';

describe('SelfSubjectAccessReview', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({
      tokens: {
        'reader-token': {
          user: 'reader',
          rules: [
            {
              verbs: ['get', 'list'],
              apiGroups: ['kustomize.toolkit.fluxcd.io'],
              resources: ['kustomizations'],
              namespaces: ['apps'],
            },
          ],
        },
      },
    });
  });

  afterAll(async () => {
    await cluster.server.stop();
  });

  it('answers whether the caller may, by the same rules that guard its requests', async () => {
    const api = kubeConfigFor(cluster.server.url, 'reader-token').makeApiClient(
      AuthorizationV1Api,
    );
    const ask = async (attributes: Record<string, string>) =>
      (
        await api.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: attributes },
          },
        })
      ).status?.allowed;
    const kustomizations = {
      group: 'kustomize.toolkit.fluxcd.io',
      resource: 'kustomizations',
    };
    expect(
      await ask({ ...kustomizations, verb: 'list', namespace: 'apps' }),
    ).toBe(true);
    expect(
      await ask({ ...kustomizations, verb: 'patch', namespace: 'apps' }),
    ).toBe(false);
    expect(
      await ask({ ...kustomizations, verb: 'list', namespace: 'other' }),
    ).toBe(false);
    expect(
      await ask({ verb: 'list', resource: 'secrets', namespace: 'apps' }),
    ).toBe(false);
  });

  it('refuses a review that names nothing to review', async () => {
    const res = await fetch(
      `${cluster.server.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`,
      {
        method: 'POST',
        headers: {
          Authorization: 'Bearer reader-token',
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ spec: {} }),
      },
    );
    expect(res.status).toBe(422);
  });
});
