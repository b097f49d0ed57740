import type { Held, Lease } from './leases';

export type { Held, Lease };

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

/** A delivery as its lease holder knows it: with the fencing token of its writes. */
export interface LeasedDelivery {
  delivery: PushDelivery;
  fence: number;
}

/** What became of a delivery offered to {@link PushDeliveryStore.accept}. */
export type Acceptance =
  | { accepted: true; fence: number }
  /** `redelivery`: its id was accepted before; `replay`: the same push was, lately. */
  | { accepted: false; reason: 'redelivery' | 'replay' };

/**
 * The push deliveries accepted, so each is relayed once across replicas (Git hosts
 * redeliver, possibly to another replica) and none is lost when the replica that
 * accepted it dies before relaying it. Writes under a delivery's lease are fenced by
 * its generation, like the operations'.
 */
export interface PushDeliveryStore {
  /**
   * Records a delivery as pending, leased to the instance relaying it, unless its id was
   * accepted before, or (with `replay`) a delivery of the same push, by its key, was
   * accepted within the window: then it is recorded as done and not accepted.
   */
  accept(
    delivery: PushDelivery,
    lease: Lease,
    replay?: { key: string; windowMs: number },
  ): Promise<Acceptance>;
  /** Marks it relayed; throws `LeaseLostError` when another instance adopted it. */
  finish(held: Held): Promise<void>;
  /** Extends its lease; false when another instance adopted it (or it is finished). */
  renew(held: Held, lease: Lease): Promise<boolean>;
  /** Lets go of it now, for any replica's next sweep to adopt. */
  release(held: Held, owner: string): Promise<void>;
  /** Takes (up to `limit`) pending deliveries whose lease ran out (their instance died). */
  claimAbandoned(lease: Lease, limit?: number): Promise<LeasedDelivery[]>;
  /** Forgets the finished deliveries and the push keys received before `before`. */
  prune(before: Date): Promise<void>;
}
