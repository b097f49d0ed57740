import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import gitopsPlugin from '@backstage-gitops/plugin-gitops-backend';
import { backstageConfig, SandboxWorld } from '@backstage-gitops/sandbox';
import kubernetesPlugin from '@backstage/plugin-kubernetes-backend';

/** The entity both backends are asked about: the demo's podinfo. */
export const ENTITY = {
  kind: 'component',
  namespace: 'default',
  name: 'podinfo',
};

export interface BenchBackend {
  url: string;
  /** Headers of a signed-in user, as both plugins accept them. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * One Backstage backend with the GitOps plugin and, for comparison, the Kubernetes plugin
 * the community Flux plugin builds on, both pointed at `clusters` of the world.
 */
export async function startBenchBackend(
  world: SandboxWorld,
  clusters: string[],
): Promise<BenchBackend> {
  const backend = await startTestBackend({
    features: [
      gitopsPlugin,
      kubernetesPlugin,
      mockServices.rootConfig.factory({
        data: backstageConfig(world, { clusters }),
      }),
      catalogServiceMock.factory({
        entities: [
          {
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Component',
            metadata: {
              name: ENTITY.name,
              namespace: ENTITY.namespace,
              annotations: {
                'gitops.backstage.io/delivery-repositories':
                  world.demo.project.httpUrl,
                'gitops.backstage.io/delivery-path': 'apps/podinfo',
                'backstage.io/kubernetes-id': 'podinfo',
              },
            },
            spec: {
              type: 'service',
              owner: 'user:default/guest',
              lifecycle: 'production',
            },
          },
        ],
      }),
    ],
  });
  const address = backend.server.address();
  if (!address || typeof address === 'string') {
    throw new Error('The bench backend has no TCP address');
  }
  return {
    url: `http://127.0.0.1:${address.port}`,
    headers: {
      Authorization: mockCredentials.user.header('user:default/guest'),
    },
    stop: () => backend.stop(),
  };
}
