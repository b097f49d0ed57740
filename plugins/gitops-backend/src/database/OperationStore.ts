import type {
  Operation,
  OperationAction,
  OperationInput,
  OperationStatus,
  OperationStep,
} from '@backstage-gitops/plugin-gitops-common';

export type { Operation, OperationAction, OperationInput, OperationStatus };

import type { Held, Lease } from './leases';

export type { Held, Lease };

/** An operation as its lease holder knows it: with the fencing token of its writes. */
export interface LeasedOperation {
  operation: Operation;
  fence: number;
}

/**
 * Persistence of operations. Each unfinished operation is leased by the backend
 * instance running it, so replicas on one database share them and adopt the ones a
 * stopped instance left. Every write of the run is fenced: conditional on the lease
 * generation the writer took, it throws `LeaseLostError` once another instance adopted
 * the operation, and changes nothing.
 */
export interface OperationStore {
  /** Stores a new `pending` operation, leased to its creator. */
  create(input: OperationInput, lease: Lease): Promise<LeasedOperation>;
  get(id: string): Promise<Operation | undefined>;
  /** Marks it `running` (keeping the first start time when re-attached). */
  markRunning(held: Held): Promise<void>;
  appendStep(held: Held, step: OperationStep): Promise<void>;
  finish(
    held: Held,
    outcome: { status: 'succeeded' | 'failed'; error?: string },
  ): Promise<Operation>;
  /** Operations still `pending` or `running`, oldest first. */
  listUnfinished(): Promise<Operation[]>;
  /** Takes the unfinished operations nobody holds (or whose lease ran out), oldest first. */
  claimAbandoned(lease: Lease): Promise<LeasedOperation[]>;
  /**
   * Extends the leases of the operations `lease.owner` is running; answers the ids still
   * held (one missing was adopted by another instance: its run must stop).
   */
  renew(held: Held[], lease: Lease): Promise<string[]>;
  /** Lets go of them now (shutting down), for another instance to adopt. */
  release(held: Held[], owner: string): Promise<void>;
}
