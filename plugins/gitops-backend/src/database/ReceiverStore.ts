import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';

/** What the manager knows of a Receiver it keeps; timestamps and trigger results are the store's. */
export type ReceiverInput = Pick<
  ManagedReceiver,
  'cluster' | 'namespace' | 'name' | 'source' | 'repository'
>;

/** Identifies a Receiver on a cluster. */
export type ReceiverKey = Pick<
  ManagedReceiver,
  'cluster' | 'namespace' | 'name'
>;

/** Persistence of the managed Receivers. */
export interface ReceiverStore {
  list(filter?: {
    cluster?: string;
    repository?: string;
  }): Promise<ManagedReceiver[]>;
  /**
   * Makes the cluster's records exactly `receivers` in one transaction, keeping the
   * trigger history of those that stay.
   */
  replaceCluster(cluster: string, receivers: ReceiverInput[]): Promise<void>;
  recordTrigger(
    key: ReceiverKey,
    result: {
      at: Date;
      result: NonNullable<ManagedReceiver['lastResult']>;
      message?: string;
    },
  ): Promise<void>;
}
