import type { ClusterStore, KubeObject, TypeRef } from '../kube/types';
import { StoreError } from '../kube/types';
import { Conditions, READY, RECONCILING, type Condition } from './conditions';
import { RECONCILE_REQUESTED_AT, sleep } from './runtime';

/** The finalizer every Flux controller puts on the objects it reconciles. */
export const FLUX_FINALIZER = 'finalizers.fluxcd.io';

export type FluxStatus = Record<string, unknown> & {
  conditions?: Condition[];
  observedGeneration?: number;
  lastHandledReconcileAt?: string;
};

/**
 * Update options naming the field manager. The ClusterStore contract has no field manager
 * on update and patch; the sandbox's store records one in managedFields when given.
 */
export function writeOptions(
  fieldManager: string,
  subresource?: 'status',
): { subresource?: 'status' } {
  const options = { ...(subresource ? { subresource } : {}), fieldManager };
  return options;
}

export interface StatusSessionOptions {
  /** Who writes the status (managedFields), e.g. `source-controller`. */
  fieldManager: string;
  /** Every reconciliation lasts at least this long between Reconciling and the final status. */
  minimumDurationMs?: () => number;
  signal?: AbortSignal;
}

/**
 * One reconciliation's view of an object's status (Flux's patch helper): the status is
 * edited in memory and written with `write()`, which only sends actual changes.
 */
export class StatusSession<TStatus extends FluxStatus = FluxStatus> {
  readonly conditions: Conditions;
  status: TStatus;
  readonly generation: number;
  /** The `reconcile.fluxcd.io/requestedAt` value this reconciliation handles. */
  readonly requestedAt: string | undefined;
  private readonly startedAt = Date.now();
  private written: string;

  constructor(
    private readonly store: ClusterStore,
    private readonly type: TypeRef,
    public object: KubeObject,
    private readonly options: StatusSessionOptions,
  ) {
    const current = structuredClone((object.status ?? {}) as TStatus);
    this.generation = object.metadata.generation ?? 1;
    this.conditions = new Conditions(current.conditions, this.generation);
    delete current.conditions;
    this.status = current;
    this.requestedAt = object.metadata.annotations?.[RECONCILE_REQUESTED_AT];
    this.written = JSON.stringify(this.snapshot());
  }

  get namespace(): string | undefined {
    return this.object.metadata.namespace;
  }

  get name(): string {
    return this.object.metadata.name;
  }

  get spec(): Record<string, unknown> {
    return (this.object.spec ?? {}) as Record<string, unknown>;
  }

  get signal(): AbortSignal | undefined {
    return this.options.signal;
  }

  private snapshot(): TStatus {
    const conditions = this.conditions.list();
    return { ...this.status, conditions } as TStatus;
  }

  /** Writes the status if it changed; throws StoreError 404 when the object is gone. */
  async write(): Promise<void> {
    this.options.signal?.throwIfAborted();
    const next = this.snapshot();
    const serialized = JSON.stringify(next);
    if (serialized === this.written) return;
    const current = this.store.get(this.type, this.namespace, this.name);
    if (!current) {
      throw new StoreError(
        404,
        'NotFound',
        `${this.type.kind} "${this.name}" not found`,
      );
    }
    const { resourceVersion: _resourceVersion, ...metadata } = current.metadata;
    this.object = this.store.update(
      { ...current, metadata, status: structuredClone(next) },
      writeOptions(this.options.fieldManager, 'status'),
    );
    this.written = serialized;
  }

  /** Waits out the remainder of the configured minimum reconciliation duration. */
  async holdMinimumDuration(): Promise<void> {
    const minimum = this.options.minimumDurationMs?.() ?? 0;
    const remaining = this.startedAt + minimum - Date.now();
    if (remaining > 0) await sleep(remaining, this.options.signal);
  }

  /** Records the handled reconcile request, as every Flux controller does at the end. */
  recordReconcileRequest(): void {
    if (this.requestedAt !== undefined) {
      this.status.lastHandledReconcileAt = this.requestedAt;
    }
  }

  observeGeneration(): void {
    this.status.observedGeneration = this.generation;
  }

  /** The kstatus success end state: Reconciling removed, generation observed. */
  finishSucceeded(): void {
    this.conditions.delete(RECONCILING);
    this.observeGeneration();
  }

  isReady(): boolean {
    return this.conditions.isTrue(READY);
  }
}

/** Adds Flux's finalizer when missing; returns the updated object. */
export function ensureFinalizer(
  store: ClusterStore,
  type: TypeRef,
  object: KubeObject,
  fieldManager: string,
): KubeObject {
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(FLUX_FINALIZER)) return object;
  return store.mergePatch(
    type,
    object.metadata.namespace,
    object.metadata.name,
    { metadata: { finalizers: [...finalizers, FLUX_FINALIZER] } },
    writeOptions(fieldManager),
  );
}

/** Removes Flux's finalizer so that a pending deletion completes. */
export function removeFinalizer(
  store: ClusterStore,
  type: TypeRef,
  object: KubeObject,
  fieldManager: string,
): void {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(FLUX_FINALIZER)) return;
  try {
    store.mergePatch(
      type,
      object.metadata.namespace,
      object.metadata.name,
      {
        metadata: { finalizers: finalizers.filter(f => f !== FLUX_FINALIZER) },
      },
      writeOptions(fieldManager),
    );
  } catch (error) {
    if (!(error instanceof StoreError && error.code === 404)) throw error;
  }
}

export function isSuspended(object: KubeObject): boolean {
  return (object.spec as { suspend?: unknown } | undefined)?.suspend === true;
}

/**
 * A suspended object is not reconciled, but — like the real controllers, whose deferred
 * status patch always runs — a new `requestedAt` is still copied to
 * `status.lastHandledReconcileAt`. Sources also observe the generation then; the
 * kustomize and helm controllers only when the object is Ready.
 */
export async function recordSuspended(
  session: StatusSession,
  observeGeneration: 'always' | 'whenReady',
): Promise<void> {
  session.recordReconcileRequest();
  if (
    observeGeneration === 'always'
      ? session.conditions.list().length > 0
      : session.isReady()
  ) {
    session.conditions.delete(RECONCILING);
    session.observeGeneration();
  }
  await session.write();
}
