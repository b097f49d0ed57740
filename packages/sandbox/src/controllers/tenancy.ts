import { impersonate } from '../kube/impersonation';
import { serviceAccountIdentity, type ServiceAccountRef } from '../kube/rbac';
import type { ClusterStore } from '../kube/types';

/**
 * Flux's multi-tenancy lockdown flags, shared by kustomize-controller and helm-controller.
 * Both default off: the controllers then apply with their own (cluster-admin) rights and
 * follow references into any namespace, as a Flux install without the lockdown does.
 */
export interface TenancyOptions {
  /**
   * `--default-service-account`: the account (in the object's namespace) an object without
   * `spec.serviceAccountName` is applied as.
   */
  defaultServiceAccount?: string;
  /** `--no-cross-namespace-refs=true`: refuse source references into other namespaces. */
  noCrossNamespaceRefs?: boolean;
}

/**
 * fluxcd/pkg runtime/client Impersonator (kustomize-controller) and helm-controller's
 * SetImpersonationConfig: `spec.serviceAccountName`, else `--default-service-account`, in the
 * object's own namespace; undefined when neither is set (the controller's own rights).
 */
export function impersonatedAccount(
  tenancy: TenancyOptions,
  serviceAccountName: string | undefined,
  namespace: string,
): ServiceAccountRef | undefined {
  const name = serviceAccountName || tenancy.defaultServiceAccount;
  return name ? { name, namespace } : undefined;
}

/**
 * The client a controller applies, prunes and uninstalls with: the store itself, or, when
 * an account is impersonated, the store with every write authorized for
 * `system:serviceaccount:<namespace>:<name>` by the cluster's stored RBAC.
 */
export function kubeClientFor(
  store: ClusterStore,
  account: ServiceAccountRef | undefined,
): ClusterStore {
  return account ? impersonate(store, serviceAccountIdentity(account)) : store;
}

/** Impersonator.CanImpersonate: the account to impersonate exists (or none is needed). */
export function canImpersonate(
  store: ClusterStore,
  account: ServiceAccountRef | undefined,
): boolean {
  return (
    !account ||
    store.get(
      { apiVersion: 'v1', kind: 'ServiceAccount' },
      account.namespace,
      account.name,
    ) !== undefined
  );
}
