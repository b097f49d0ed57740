import type {
  Operation,
  OperationAction,
  OperationInput,
  OperationStatus,
  OperationStep,
} from '@backstage-gitops/plugin-gitops-common';

export type { Operation, OperationAction, OperationInput, OperationStatus };

/** Persistence of operations. */
export interface OperationStore {
  /** Stores a new `pending` operation. */
  create(input: OperationInput): Promise<Operation>;
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
}
