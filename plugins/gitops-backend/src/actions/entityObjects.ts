import { Entity } from '@backstage/catalog-model';
import { EntityStatus, FluxStatusItem } from '../status/types';
import { EntityFluxObject, EntityFluxObjects } from './router';

/** Consumers apply a source's artifact; everything else is a source. */
const CONSUMER_KINDS = new Set(['Kustomization', 'HelmRelease']);

/**
 * The entity's Flux objects as its status shows them (chains and kubernetes-id
 * objects), so actions reach exactly what the status lists and nothing else. Read from
 * the cache alone: finding them asks no Git host.
 */
export function entityObjectsFromStatus(status: {
  getStatus(
    entityRef: string,
    entity: Entity,
    options: { gitHost: false },
  ): Promise<EntityStatus>;
}): EntityFluxObjects {
  return {
    async objectsOf(entityRef, entity) {
      const result = new Map<string, EntityFluxObject>();
      const add = (
        cluster: string,
        item: Pick<FluxStatusItem, 'kind' | 'namespace' | 'name' | 'suspended'>,
      ) => {
        const key = `${cluster}/${item.kind}/${item.namespace}/${item.name}`;
        result.set(key, {
          cluster,
          target: {
            kind: item.kind,
            namespace: item.namespace,
            name: item.name,
          },
          role: CONSUMER_KINDS.has(item.kind) ? 'consumer' : 'source',
          suspended: item.suspended,
        });
      };
      const { clusters } = await status.getStatus(entityRef, entity, {
        gitHost: false,
      });
      for (const cluster of clusters) {
        for (const chain of cluster.chains) {
          add(cluster.name, chain.source);
          chain.consumers.forEach(consumer => add(cluster.name, consumer));
        }
        cluster.kubernetesIdObjects.forEach(object =>
          add(cluster.name, object),
        );
      }
      return [...result.values()];
    },
  };
}
