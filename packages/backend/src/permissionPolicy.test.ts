import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { PolicyQueryUser } from '@backstage/plugin-permission-node';
import {
  gitopsClusterManagePermission,
  gitopsTokensManagePermission,
  gitopsTokensReadPermission,
  gitopsEntityReadPermission,
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
} from '@backstage-gitops/plugin-gitops-common';
import { GitOpsDemoPermissionPolicy } from './permissionPolicy';

function userOwning(...ownershipEntityRefs: string[]): PolicyQueryUser {
  return {
    credentials: {} as PolicyQueryUser['credentials'],
    info: { userEntityRef: ownershipEntityRefs[0], ownershipEntityRefs },
  };
}

describe('GitOpsDemoPermissionPolicy', () => {
  const policy = new GitOpsDemoPermissionPolicy([
    'group:default/platform-admins',
  ]);
  const guest = userOwning('user:default/guest', 'group:default/team-apps');

  it('lets everyone read', async () => {
    await expect(
      policy.handle({ permission: gitopsEntityReadPermission }, guest),
    ).resolves.toEqual({ result: AuthorizeResult.ALLOW });
  });

  it.each([gitopsEntityReconcilePermission, gitopsEntitySuspendPermission])(
    'lets only the owners of the entity use %s',
    async permission => {
      await expect(policy.handle({ permission }, guest)).resolves.toEqual({
        result: AuthorizeResult.CONDITIONAL,
        pluginId: 'catalog',
        resourceType: 'catalog-entity',
        conditions: {
          rule: 'IS_ENTITY_OWNER',
          resourceType: 'catalog-entity',
          params: {
            claims: ['user:default/guest', 'group:default/team-apps'],
          },
        },
      });
    },
  );

  it.each([gitopsClusterManagePermission, gitopsTokensManagePermission])(
    'lets only administrators have $name',
    async permission => {
      await expect(policy.handle({ permission }, guest)).resolves.toEqual({
        result: AuthorizeResult.DENY,
      });
      await expect(
        policy.handle(
          { permission },
          userOwning('user:default/root', 'group:default/platform-admins'),
        ),
      ).resolves.toEqual({ result: AuthorizeResult.ALLOW });
    },
  );

  it('lets everyone read the token inventory', async () => {
    await expect(
      policy.handle({ permission: gitopsTokensReadPermission }, guest),
    ).resolves.toEqual({ result: AuthorizeResult.ALLOW });
  });
});
