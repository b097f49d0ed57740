/**
 * Status conditions the way Flux's `runtime/conditions` package keeps them: a condition
 * is replaced by type, `lastTransitionTime` only moves when the status flips, and every
 * condition carries the generation it was computed for.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';
export const HEALTHY = 'Healthy';
export const PROGRESSING_REASON = 'Progressing';
export const PROGRESSING_WITH_RETRY_REASON = 'ProgressingWithRetry';
export const SUCCEEDED_REASON = 'Succeeded';

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function kubeTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

// Flux lists the summary conditions first; the rest keep a stable alphabetical order.
const LEADING_TYPES = [READY, RECONCILING, STALLED];

function conditionOrder(a: Condition, b: Condition): number {
  const rank = (c: Condition) => {
    const index = LEADING_TYPES.indexOf(c.type);
    return index === -1 ? LEADING_TYPES.length : index;
  };
  return rank(a) - rank(b) || a.type.localeCompare(b.type);
}

/** Mutable conditions of one object at one generation. */
export class Conditions {
  private items: Condition[];

  constructor(
    initial: readonly Condition[] | undefined,
    private readonly generation: number,
  ) {
    this.items = (initial ?? []).map(c => ({ ...c }));
  }

  list(): Condition[] {
    return this.items.map(c => ({ ...c }));
  }

  get(type: string): Condition | undefined {
    return this.items.find(c => c.type === type);
  }

  has(type: string): boolean {
    return this.get(type) !== undefined;
  }

  isTrue(type: string): boolean {
    return this.get(type)?.status === 'True';
  }

  isFalse(type: string): boolean {
    return this.get(type)?.status === 'False';
  }

  set(
    type: string,
    status: ConditionStatus,
    reason: string,
    message: string,
  ): void {
    const existing = this.get(type);
    const next: Condition = {
      type,
      status,
      observedGeneration: this.generation,
      lastTransitionTime:
        existing && existing.status === status
          ? existing.lastTransitionTime
          : kubeTime(),
      reason,
      message,
    };
    this.items = [...this.items.filter(c => c.type !== type), next].sort(
      conditionOrder,
    );
  }

  markTrue(type: string, reason: string, message: string): void {
    this.set(type, 'True', reason, message);
  }

  markFalse(type: string, reason: string, message: string): void {
    this.set(type, 'False', reason, message);
  }

  markUnknown(type: string, reason: string, message: string): void {
    this.set(type, 'Unknown', reason, message);
  }

  delete(type: string): void {
    this.items = this.items.filter(c => c.type !== type);
  }

  /** fluxcd/pkg/runtime/conditions MarkReconciling: also deletes Stalled. */
  markReconciling(reason: string, message: string): void {
    this.delete(STALLED);
    this.markTrue(RECONCILING, reason, message);
  }

  /** fluxcd/pkg/runtime/conditions MarkStalled: also deletes Reconciling. */
  markStalled(reason: string, message: string): void {
    this.delete(RECONCILING);
    this.markTrue(STALLED, reason, message);
  }

  /**
   * Flux's ProgressiveStatus: Reconciling=True always; Ready=Unknown only when Ready is
   * absent or already Unknown, or when `drift` (a new revision) makes the old Ready stale.
   */
  progressive(drift: boolean, reason: string, message: string): void {
    this.markReconciling(reason, message);
    const ready = this.get(READY);
    if (drift || !ready || ready.status === 'Unknown') {
      this.markUnknown(READY, reason, message);
    }
  }
}

/** Reads the conditions of any object's status. */
export function conditionsOf(object: object): Condition[] {
  const status = (object as { status?: unknown }).status as
    | { conditions?: unknown }
    | undefined;
  return Array.isArray(status?.conditions)
    ? (status.conditions as Condition[])
    : [];
}

export function findCondition(
  object: object,
  type: string,
): Condition | undefined {
  return conditionsOf(object).find(c => c.type === type);
}

export function isConditionTrue(object: object, type: string): boolean {
  return findCondition(object, type)?.status === 'True';
}
