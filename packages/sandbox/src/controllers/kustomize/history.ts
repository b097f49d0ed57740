import { kubeTime } from '../conditions';
import { formatGoDuration } from '../duration';

/** One entry of Kustomization `status.history` (kustomize-controller v1.7+). */
export interface Snapshot {
  digest: string;
  firstReconciled: string;
  lastReconciled: string;
  lastReconciledDuration: string;
  lastReconciledStatus: string;
  totalReconciliations: number;
  metadata?: Record<string, string>;
}

const MAX_HISTORY = 5;

/**
 * History.Upsert: a run with a digest already in the history updates that snapshot,
 * otherwise a new one is added; newest first, at most five kept.
 */
export function upsertHistory(
  history: readonly Snapshot[] | undefined,
  run: {
    digest: string;
    durationMs: number;
    status: string;
    metadata?: Record<string, string>;
  },
): Snapshot[] {
  const now = kubeTime();
  const entries = (history ?? []).map(s => ({ ...s }));
  const existing = entries.find(s => s.digest === run.digest);
  if (existing) {
    existing.lastReconciled = now;
    existing.lastReconciledDuration = formatGoDuration(run.durationMs);
    existing.lastReconciledStatus = run.status;
    existing.totalReconciliations += 1;
    if (run.metadata) existing.metadata = run.metadata;
  } else {
    entries.push({
      digest: run.digest,
      firstReconciled: now,
      lastReconciled: now,
      lastReconciledDuration: formatGoDuration(run.durationMs),
      lastReconciledStatus: run.status,
      totalReconciliations: 1,
      ...(run.metadata ? { metadata: run.metadata } : {}),
    });
  }
  // Same-second timestamps keep the order of the last update: the upserted one first.
  const touched = existing ?? entries[entries.length - 1];
  const others = entries
    .filter(s => s !== touched)
    .sort((a, b) => b.lastReconciled.localeCompare(a.lastReconciled));
  return [touched, ...others].slice(0, MAX_HISTORY);
}
