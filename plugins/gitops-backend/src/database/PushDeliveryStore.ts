import type { Lease } from './leases';

/** What a push event says: the repository's URLs, and the ref and commit it moved to. */
export interface Push {
  urls: string[];
  ref?: string;
  /** The new head; absent when the ref was deleted. */
  sha?: string;
}

/** A Git host push delivery, as accepted: never the payload, only what is relayed. */
export interface PushDelivery {
  /** The Git host's delivery id, or a random one when it sent none. */
  id: string;
  topic: string;
  push: Push;
}

/**
 * The push deliveries accepted, so each is relayed once across replicas (Git hosts
 * redeliver, possibly to another replica) and none is lost when the replica that
 * accepted it dies before relaying it.
 */
export interface PushDeliveryStore {
  /**
   * Records a delivery as pending, leased to the instance relaying it; false when its id
   * was accepted before.
   */
  accept(delivery: PushDelivery, lease: Lease): Promise<boolean>;
  finish(id: string): Promise<void>;
  /** Takes the pending deliveries whose lease ran out (their instance died). */
  claimAbandoned(lease: Lease): Promise<PushDelivery[]>;
  /** Forgets the finished deliveries received before `before`. */
  prune(before: Date): Promise<void>;
}
