import type {
  Operation,
  OperationAction,
  OperationInput,
  OperationStatus,
  OperationStep,
} from '@backstage-gitops/plugin-gitops-common';

export type { Operation, OperationAction, OperationInput, OperationStatus };

import type { Lease } from './leases';

export type { Lease };

/**
 * Persistence of operations. Each unfinished operation is leased by the backend
 * instance running it, so replicas on one database share them and adopt the ones a
 * stopped instance left.
 */
export interface OperationStore {
  /** Stores a new `pending` operation, leased to its creator. */
  create(input: OperationInput, lease: Lease): Promise<Operation>;
  get(id: string): Promise<Operation | undefined>;
  /** Marks it `running` (keeping the first start time when re-attached). */
  markRunning(id: string): Promise<void>;
  appendStep(id: string, step: OperationStep): Promise<void>;
  finish(
    id: string,
    outcome: { status: 'succeeded' | 'failed'; error?: string },
  ): Promise<Operation>;
  /** Operations still `pending` or `running`, oldest first. */
  listUnfinished(): Promise<Operation[]>;
  /** Takes the unfinished operations nobody holds (or whose lease ran out), oldest first. */
  claimAbandoned(lease: Lease): Promise<Operation[]>;
  /** Extends the leases of the operations `lease.owner` is running. */
  renew(ids: string[], lease: Lease): Promise<void>;
  /** Lets go of them now (shutting down), for another instance to adopt. */
  release(ids: string[], owner: string): Promise<void>;
}
