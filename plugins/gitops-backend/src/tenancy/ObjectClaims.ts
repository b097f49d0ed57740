import { AuthService } from '@backstage/backend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  ANNOTATION_CLUSTERS,
  ANNOTATION_KUBERNETES_ID,
} from '@backstage-gitops/plugin-gitops-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { FluxCache } from '../cache/FluxCache';
import { normalizedUrl, sourceKeysOf } from '../cache/FluxIndex';
import { CachedFluxObject } from '../cache/types';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { ObjectOwnerStore } from '../database/ObjectOwnerStore';
import { consumerPath, isUnder } from '../status/EntityStatusService';

const CONSUMER_KINDS = new Set<string>(['Kustomization', 'HelmRelease']);

/**
 * Every entity that claims a Flux object, whoever asks: the entity the backend created
 * it for; each entity whose delivery repository (annotation or API) is the object's
 * source, on that cluster and, for a Kustomization or HelmRelease, with a path that
 * holds the object's; and each entity whose `backstage.io/kubernetes-id` is the
 * object's label. Read with the backend's own credentials, so an entity the caller
 * cannot see still counts. Acting on the object needs permission on all of them: an
 * owner cannot reach another team's object by naming its repository or label.
 */
export class ObjectClaims {
  constructor(
    private readonly options: {
      cache: Pick<FluxCache, 'get'>;
      deliveries: Pick<DeliveryRepositoryStore, 'list'>;
      owners: Pick<ObjectOwnerStore, 'ownersOf'>;
      catalog: CatalogService;
      auth: AuthService;
    },
  ) {}

  async claimantsOf(cluster: string, ref: FluxObjectRef): Promise<string[]> {
    const { cache, owners } = this.options;
    const claimants = new Set<string>();
    for (const owner of await owners.ownersOf([{ cluster, ...ref }])) {
      claimants.add(owner.entityRef);
    }
    const object = cache.get(cluster, ref.kind, ref.namespace, ref.name);
    if (!object) return [...claimants];
    const kubernetesId = object.metadata.labels?.[ANNOTATION_KUBERNETES_ID];
    if (kubernetesId) {
      for (const entityRef of await this.withKubernetesId(
        kubernetesId,
        cluster,
      )) {
        claimants.add(entityRef);
      }
    }
    for (const entityRef of await this.byDelivery(cluster, object)) {
      claimants.add(entityRef);
    }
    return [...claimants];
  }

  private async byDelivery(
    cluster: string,
    object: CachedFluxObject,
  ): Promise<string[]> {
    const consumer = CONSUMER_KINDS.has(object.kind);
    const sources = consumer
      ? sourceKeysOf(object).flatMap(key => {
          const [kind, namespace, name] = key.split('/');
          const source = this.options.cache.get(
            cluster,
            kind as FluxKind,
            namespace,
            name,
          );
          return source ? [source] : [];
        })
      : [object];
    const path = consumer ? consumerPath(object) : undefined;
    const claimants: string[] = [];
    for (const source of sources) {
      const url = normalizedUrl(source);
      if (!url) continue;
      for (const delivery of await this.options.deliveries.list({
        normalizedUrl: url,
      })) {
        if (delivery.clusters && !delivery.clusters.includes(cluster)) continue;
        // A delivery path claims the consumers under it; none claims them all.
        if (consumer && delivery.path && !isUnder(path ?? '', delivery.path)) {
          continue;
        }
        claimants.push(delivery.entityRef);
      }
    }
    return claimants;
  }

  /** The entities with this kubernetes-id, on the cluster (`gitops.backstage.io/clusters`). */
  private async withKubernetesId(
    id: string,
    cluster: string,
  ): Promise<string[]> {
    const { items } = await this.options.catalog.getEntities(
      {
        filter: { [`metadata.annotations.${ANNOTATION_KUBERNETES_ID}`]: id },
        fields: [
          'kind',
          'metadata.namespace',
          'metadata.name',
          `metadata.annotations.${ANNOTATION_CLUSTERS}`,
        ],
      },
      { credentials: await this.options.auth.getOwnServiceCredentials() },
    );
    return items
      .filter(entity => {
        const clusters = entity.metadata.annotations?.[ANNOTATION_CLUSTERS];
        return (
          !clusters ||
          clusters
            .split(',')
            .map(name => name.trim())
            .includes(cluster)
        );
      })
      .map(entity => stringifyEntityRef(entity));
  }
}
