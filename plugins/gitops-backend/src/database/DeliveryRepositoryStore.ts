import { DeliveryRepository } from '@backstage-gitops/plugin-gitops-common';

/** What registering a delivery repository needs; ids and timestamps are the store's. */
export interface DeliveryRepositoryInput {
  entityRef: string;
  url: string;
  ref?: string;
  path?: string;
  clusters?: string[];
  origin: DeliveryRepository['origin'];
}

/** Persistence of delivery repositories. */
export interface DeliveryRepositoryStore {
  list(filter?: {
    entityRef?: string;
    normalizedUrl?: string;
  }): Promise<DeliveryRepository[]>;
  get(id: string): Promise<DeliveryRepository | undefined>;
  /** Creates, or updates the entry with the same entity, repository and path. */
  upsert(input: DeliveryRepositoryInput): Promise<DeliveryRepository>;
  delete(id: string): Promise<boolean>;
  /**
   * Makes the entity's `annotation` entries exactly `inputs` in one transaction;
   * `api` entries are left alone.
   */
  replaceAnnotated(
    entityRef: string,
    inputs: DeliveryRepositoryInput[],
  ): Promise<void>;
}
