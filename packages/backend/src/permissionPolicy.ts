import { createBackendModule } from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  isPermission,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import {
  gitopsClusterManagePermission,
  gitopsEntityManagePermission,
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
  gitopsTokensManagePermission,
} from '@backstage-gitops/plugin-gitops-common';

const OWNER_ACTIONS = [
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
  gitopsEntityManagePermission,
].map(permission => permission.name);

/**
 * The demo app's policy: everyone reads everything; only an entity's owners (the user or
 * one of their groups) may sync, suspend, resume or change its delivery repositories;
 * only members of `adminGroups` may register clusters and create or rotate tokens.
 */
export class GitOpsDemoPermissionPolicy implements PermissionPolicy {
  constructor(private readonly adminGroups: string[]) {}

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    const ownership = user?.info.ownershipEntityRefs ?? [];
    if (
      isPermission(request.permission, gitopsClusterManagePermission) ||
      isPermission(request.permission, gitopsTokensManagePermission)
    ) {
      return ownership.some(ref => this.adminGroups.includes(ref))
        ? { result: AuthorizeResult.ALLOW }
        : { result: AuthorizeResult.DENY };
    }
    if (
      OWNER_ACTIONS.includes(request.permission.name) &&
      isResourcePermission(request.permission, 'catalog-entity')
    ) {
      return createCatalogConditionalDecision(
        request.permission,
        catalogConditions.isEntityOwner({ claims: ownership }),
      );
    }
    return { result: AuthorizeResult.ALLOW };
  }
}

/** The demo's administrators (examples/org.yaml). */
const DEMO_ADMIN_GROUPS = ['group:default/platform-admins'];

/** Installs {@link GitOpsDemoPermissionPolicy} in the permission backend. */
export default createBackendModule({
  pluginId: 'permission',
  moduleId: 'gitops-demo-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy(new GitOpsDemoPermissionPolicy(DEMO_ADMIN_GROUPS));
      },
    });
  },
});
