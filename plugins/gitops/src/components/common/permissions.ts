import { usePermission } from '@backstage/plugin-permission-react';
import {
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
} from '@backstage-gitops/plugin-gitops-common';

/** Why an action is refused, or `undefined` when it is allowed. */
export interface ActionPermissions {
  loading: boolean;
  syncDenied?: string;
  suspendDenied?: string;
}

export const NOT_OWNER_SYNC =
  'You do not own this entity: syncing it needs the gitops.entity.reconcile permission';
export const NOT_OWNER_SUSPEND =
  'You do not own this entity: suspending or resuming it needs the gitops.entity.suspend permission';

/** The GitOps action permissions of the signed-in user on one entity. */
export function useActionPermissions(entityRef: string): ActionPermissions {
  const reconcile = usePermission({
    permission: gitopsEntityReconcilePermission,
    resourceRef: entityRef,
  });
  const suspend = usePermission({
    permission: gitopsEntitySuspendPermission,
    resourceRef: entityRef,
  });
  const loading = reconcile.loading || suspend.loading;
  return {
    loading,
    syncDenied:
      !reconcile.loading && !reconcile.allowed ? NOT_OWNER_SYNC : undefined,
    suspendDenied:
      !suspend.loading && !suspend.allowed ? NOT_OWNER_SUSPEND : undefined,
  };
}
