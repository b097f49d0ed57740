import type { ClusterStore, TypeRef } from '../../kube/types';
import { computeKStatus, type KStatus } from '../kstatus';
import { sleep } from '../runtime';
import { formatObjectId } from './inventory';

export interface HealthTarget {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export class HealthCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealthCheckError';
  }
}

function resolveType(
  store: ClusterStore,
  target: HealthTarget,
): TypeRef | undefined {
  if (target.apiVersion)
    return { apiVersion: target.apiVersion, kind: target.kind };
  const type = store.types().find(t => t.kind === target.kind);
  return (
    type && {
      apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
      kind: type.kind,
    }
  );
}

function statusOf(store: ClusterStore, target: HealthTarget): KStatus {
  const type = resolveType(store, target);
  if (!type || !store.findType(type)) return 'NotFound';
  return computeKStatus(store.get(type, target.namespace, target.name)).status;
}

/**
 * fluxcd/pkg/ssa WaitForSet with fail-fast: polls kstatus until every object is Current,
 * fails early when one is Failed (stalled), and times out with the objects still pending.
 */
export async function waitForSet(
  store: ClusterStore,
  targets: readonly HealthTarget[],
  options: { timeoutMs: number; pollIntervalMs: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const describe = (target: HealthTarget, status: KStatus) =>
    `${formatObjectId(
      target.kind,
      target.namespace,
      target.name,
    )} status: '${status}'`;
  for (;;) {
    const statuses = targets.map(target => ({
      target,
      status: statusOf(store, target),
    }));
    const failed = statuses.filter(s => s.status === 'Failed');
    if (failed.length > 0) {
      throw new HealthCheckError(
        `failed early due to stalled resources: [${failed
          .map(s => describe(s.target, s.status))
          .join(', ')}]`,
      );
    }
    const pending = statuses.filter(s => s.status !== 'Current');
    if (pending.length === 0) return;
    if (Date.now() >= deadline) {
      throw new HealthCheckError(
        `timeout waiting for: [${pending
          .map(s => describe(s.target, s.status))
          .join(', ')}]`,
      );
    }
    await sleep(
      Math.min(options.pollIntervalMs, Math.max(0, deadline - Date.now())),
      options.signal,
    );
  }
}
