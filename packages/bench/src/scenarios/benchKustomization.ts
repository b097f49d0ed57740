import { SandboxCluster } from '@backstage-gitops/sandbox';

/**
 * A Kustomization of the bench's own, without dependencies, deploying podinfo's dev
 * overlay (so it belongs to the podinfo entity by its path) on any world cluster: the
 * demo's Kustomizations build per-cluster paths that only `dev` and `prod` have.
 */
export const BENCH_KUSTOMIZATION = {
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'podinfo-bench',
} as const;

const TYPE = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};

export interface BenchKustomizationStatus {
  lastAppliedRevision?: string;
  lastHandledReconcileAt?: string;
  ready: boolean;
}

/**
 * Creates the bench Kustomization (and the namespace it deploys to) unless there already;
 * it stays for the world's life (Flux's finalizer makes a removal asynchronous).
 */
export function ensureBenchKustomization(cluster: SandboxCluster): void {
  const { store } = cluster.api;
  if (
    store.get(TYPE, BENCH_KUSTOMIZATION.namespace, BENCH_KUSTOMIZATION.name)
  ) {
    return;
  }
  // The demo's infrastructure Kustomization would create it.
  if (
    !store.get({ apiVersion: 'v1', kind: 'Namespace' }, undefined, 'podinfo')
  ) {
    store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'podinfo' },
    });
  }
  store.create({
    ...TYPE,
    metadata: {
      name: BENCH_KUSTOMIZATION.name,
      namespace: BENCH_KUSTOMIZATION.namespace,
    },
    spec: {
      interval: '1h',
      path: './apps/podinfo/dev',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'team-delivery' },
    },
  });
}

/** The bench Kustomization's status, read from the cluster's store. */
export function benchKustomizationStatus(
  cluster: SandboxCluster,
): BenchKustomizationStatus {
  const object = cluster.api.store.get(
    TYPE,
    BENCH_KUSTOMIZATION.namespace,
    BENCH_KUSTOMIZATION.name,
  ) as
    | {
        status?: {
          lastAppliedRevision?: string;
          lastHandledReconcileAt?: string;
          conditions?: Array<{ type: string; status: string }>;
        };
      }
    | undefined;
  const status = object?.status ?? {};
  return {
    lastAppliedRevision: status.lastAppliedRevision,
    lastHandledReconcileAt: status.lastHandledReconcileAt,
    ready: status.conditions?.find(c => c.type === 'Ready')?.status === 'True',
  };
}
