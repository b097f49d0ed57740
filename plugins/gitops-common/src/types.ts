import { DeliveryRepositoryKind } from './repositoryUrl';

/**
 * A repository Flux delivers an entity from, registered from the entity's annotations
 * or through the API.
 *
 * @public
 */
export interface DeliveryRepository {
  id: string;
  /** The owning catalog entity, e.g. `component:default/podinfo`. */
  entityRef: string;
  /** The URL as registered. */
  url: string;
  kind: DeliveryRepositoryKind;
  /** Git branch or tag, or OCI tag; absent means whatever each Flux source follows. */
  ref?: string;
  /** Directory inside the repository the entity's manifests live in. */
  path?: string;
  /** Target cluster names; absent means every cluster. */
  clusters?: string[];
  /** `annotation` entries follow the catalog; `api` entries are managed through the API. */
  origin: 'annotation' | 'api';
  createdAt: string;
  updatedAt: string;
}
