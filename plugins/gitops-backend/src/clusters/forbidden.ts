import { stringifyError } from '@backstage/errors';
import { ApiException } from '@kubernetes/client-node';

/**
 * Why a call in a namespace failed; a 403 says what the administrator can do about it:
 * deploy/kubernetes/rbac.yaml grants Secrets and Receivers per namespace only.
 */
export function namespacedFailure(
  error: unknown,
  options: { what: string; namespace: string },
): string {
  if (error instanceof ApiException && error.code === 403) {
    return `forbidden: the backend's service account may not ${options.what} in namespace ${options.namespace}; bind the ClusterRole backstage-gitops-flux-namespace there (deploy/kubernetes/rbac.yaml)`;
  }
  if (error instanceof ApiException && error.code === 404) {
    return 'not found';
  }
  return stringifyError(error);
}
