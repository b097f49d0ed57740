import { mockCredentials } from '@backstage/backend-test-utils';
import { backstageConfig, SandboxWorld } from '@backstage-gitops/sandbox';
import { launchProbe } from './probe/launch';
import { ProbeFeatures } from './probe/protocol';

/** The entity every scenario asks about: the demo's podinfo. */
export const ENTITY = {
  kind: 'component',
  namespace: 'default',
  name: 'podinfo',
};

export const ENTITY_PATH = `${ENTITY.kind}/${ENTITY.namespace}/${ENTITY.name}`;

/**
 * The events backend and the GitOps backend run in one process here, so a push webhook
 * needs no event bus: with the default (`auto`) every webhook would also be written to
 * the bus's table through two internal requests (see the README's Performance section).
 * The push scenarios replay one push (same commit) with fresh delivery ids, which the
 * backend would recognise as a replay within `gitops.receivers.relay.replayWindow` and
 * not relay: the window is 0 here, so every webhook counts as a new push.
 */
function benchConfig<T extends { events: object; gitops?: object }>(
  config: T,
): T {
  const gitops = (config.gitops ?? {}) as { receivers?: object };
  return {
    ...config,
    events: { ...config.events, useEventBus: 'never' },
    gitops: {
      ...gitops,
      receivers: {
        ...gitops.receivers,
        relay: { replayWindow: { seconds: 0 } },
      },
    },
  };
}

export interface BenchBackend {
  url: string;
  /** Headers of a signed-in user, as both plugins accept them. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * One Backstage backend, in a process of its own, with the GitOps plugin pointed at
 * `clusters` of the world, and the plugins the scenario compares with or needs.
 */
export async function startBenchBackend(
  world: SandboxWorld,
  clusters: string[],
  features: ProbeFeatures = {},
): Promise<BenchBackend> {
  const probe = await launchProbe({
    config: benchConfig(backstageConfig(world, { clusters })),
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
    features,
  });
  return {
    url: probe.url,
    headers: {
      Authorization: mockCredentials.user.header('user:default/guest'),
    },
    stop: () => probe.stop(),
  };
}
