import {
  AuthService,
  BackstageCredentials,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ANNOTATION_CLUSTERS,
  ANNOTATION_KUBERNETES_ID,
  DeliveryRepository,
  gitopsEntityReadPermission,
} from '@backstage-gitops/plugin-gitops-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { FluxCache } from '../cache/FluxCache';
import { normalizedUrl, sourceKeysOf } from '../cache/FluxIndex';
import { CachedFluxObject } from '../cache/types';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import {
  ObjectOwnerStore,
  OwnedObjectKey,
  ownedKeyOf,
  ownedObjectKey,
} from '../database/ObjectOwnerStore';
import { allowedEntityRefs } from '../service/requestHelpers';
import { consumerPath, isUnder } from '../status/EntityStatusService';
import { ownersOf, Tenancy } from './Tenancy';

const CONSUMER_KINDS = new Set<string>(['Kustomization', 'HelmRelease']);

/** `lookup`, called once per argument. */
function memoized<T>(
  lookup: (argument: string) => Promise<T>,
): (argument: string) => Promise<T> {
  const results = new Map<string, Promise<T>>();
  return argument => {
    let result = results.get(argument);
    if (!result) {
      result = lookup(argument);
      results.set(argument, result);
    }
    return result;
  };
}

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
      tenancy: Pick<Tenancy, 'placementOf'>;
      permissions: PermissionsService;
    },
  ) {}

  async claimantsOf(cluster: string, ref: FluxObjectRef): Promise<string[]> {
    const object = this.options.cache.get(
      cluster,
      ref.kind,
      ref.namespace,
      ref.name,
    );
    const key = { cluster, ...ref };
    const [claims] = await this.claimsOf([key], object ? [object] : []);
    return [...claims.claimants];
  }

  /**
   * The objects shown on `entity`'s page that the caller may not read: those claimed also
   * by an entity on which they lack `gitops.entity.read`. An object the backend created
   * for `entity`, or one in the namespace the platform mapped to `entity`'s owner on that
   * cluster, is the entity's own and stays shown; another team naming its label or path
   * cannot hide it. Keys are `ownedObjectKey`s; one batched permission call.
   */
  async unreadable(
    entity: Entity,
    objects: CachedFluxObject[],
    credentials: BackstageCredentials,
  ): Promise<Set<string>> {
    const { tenancy, permissions } = this.options;
    const entityRef = stringifyEntityRef(entity);
    const owners = ownersOf(entity);
    const keys = objects.map(ownedKeyOf);
    const claims = await this.claimsOf(keys, objects);
    const disputed = claims.filter(
      (claim, i) =>
        claim.recordedOwner !== entityRef &&
        tenancy.placementOf(owners, keys[i].cluster)?.namespace !==
          keys[i].namespace &&
        [...claim.claimants].some(claimant => claimant !== entityRef),
    );
    const others = new Set(
      disputed.flatMap(claim =>
        [...claim.claimants].filter(claimant => claimant !== entityRef),
      ),
    );
    const readable = await allowedEntityRefs(
      permissions,
      gitopsEntityReadPermission,
      [...others],
      credentials,
    );
    return new Set(
      disputed
        .filter(claim =>
          [...claim.claimants].some(
            claimant => claimant !== entityRef && !readable.has(claimant),
          ),
        )
        .map(claim => claim.key),
    );
  }

  /**
   * Each object's claimants, in the order of `keys`; `cached` holds the objects the cache
   * has (one not there is claimed by its recorded owner only). Lookups shared by several
   * objects (a label, a source URL) are made once.
   */
  private async claimsOf(
    keys: OwnedObjectKey[],
    cached: CachedFluxObject[],
  ): Promise<
    Array<{ key: string; claimants: Set<string>; recordedOwner?: string }>
  > {
    const recorded = new Map(
      (await this.options.owners.ownersOf(keys)).map(owner => [
        ownedObjectKey(owner),
        owner.entityRef,
      ]),
    );
    const byKey = new Map(cached.map(o => [ownedObjectKey(ownedKeyOf(o)), o]));
    const labelled = memoized((id: string) => this.withKubernetesId(id));
    const registered = memoized((url: string) =>
      this.options.deliveries.list({ normalizedUrl: url }),
    );
    return Promise.all(
      keys.map(async objectKey => {
        const key = ownedObjectKey(objectKey);
        const recordedOwner = recorded.get(key);
        const claimants = new Set<string>(recordedOwner ? [recordedOwner] : []);
        const object = byKey.get(key);
        if (object) {
          const kubernetesId =
            object.metadata.labels?.[ANNOTATION_KUBERNETES_ID];
          if (kubernetesId) {
            for (const entity of await labelled(kubernetesId)) {
              if (
                !entity.clusters ||
                entity.clusters.includes(object.cluster)
              ) {
                claimants.add(entity.entityRef);
              }
            }
          }
          for (const entityRef of await this.byDelivery(object, registered)) {
            claimants.add(entityRef);
          }
        }
        return { key, claimants, recordedOwner };
      }),
    );
  }

  private async byDelivery(
    object: CachedFluxObject,
    registered: (url: string) => Promise<DeliveryRepository[]>,
  ): Promise<string[]> {
    const { cluster } = object;
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
      for (const delivery of await registered(url)) {
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

  /** The entities with this kubernetes-id, with their `gitops.backstage.io/clusters`. */
  private async withKubernetesId(
    id: string,
  ): Promise<Array<{ entityRef: string; clusters?: string[] }>> {
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
    return items.map(entity => {
      const clusters = entity.metadata.annotations?.[ANNOTATION_CLUSTERS];
      return {
        entityRef: stringifyEntityRef(entity),
        clusters: clusters
          ? clusters.split(',').map(name => name.trim())
          : undefined,
      };
    });
  }
}
