import { createPermission } from '@backstage/plugin-permission-common';

/** The catalog's resource type (`RESOURCE_TYPE_CATALOG_ENTITY`), so catalog conditions apply. */
const RESOURCE_TYPE_CATALOG_ENTITY = 'catalog-entity';

/**
 * Read an entity's GitOps status, history and delivery repositories.
 *
 * @public
 */
export const gitopsEntityReadPermission = createPermission({
  name: 'gitops.entity.read',
  attributes: { action: 'read' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/**
 * Reconcile ("sync now") an entity's Flux objects.
 *
 * @public
 */
export const gitopsEntityReconcilePermission = createPermission({
  name: 'gitops.entity.reconcile',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/**
 * Suspend or resume an entity's Flux objects.
 *
 * @public
 */
export const gitopsEntitySuspendPermission = createPermission({
  name: 'gitops.entity.suspend',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/**
 * Register or remove an entity's delivery repositories through the API.
 *
 * @public
 */
export const gitopsEntityManagePermission = createPermission({
  name: 'gitops.entity.manage',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/**
 * Register or remove clusters at runtime (an administrator's permission).
 *
 * @public
 */
export const gitopsClusterManagePermission = createPermission({
  name: 'gitops.cluster.manage',
  attributes: { action: 'update' },
});

/**
 * See the clusters the backend watches, their GitOps settings and health (never a
 * token): `GET /clusters`.
 *
 * @public
 */
export const gitopsClusterReadPermission = createPermission({
  name: 'gitops.cluster.read',
  attributes: { action: 'read' },
});

/**
 * See the credentials Flux uses (metadata and fingerprints only) and their report.
 *
 * @public
 */
export const gitopsTokensReadPermission = createPermission({
  name: 'gitops.tokens.read',
  attributes: { action: 'read' },
});

/**
 * Create and rotate the credentials Flux uses (an administrator's permission).
 *
 * @public
 */
export const gitopsTokensManagePermission = createPermission({
  name: 'gitops.tokens.manage',
  attributes: { action: 'update' },
});

/**
 * Every permission of the GitOps plugins.
 *
 * @public
 */
export const gitopsPermissions = [
  gitopsEntityReadPermission,
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
  gitopsEntityManagePermission,
  gitopsClusterManagePermission,
  gitopsClusterReadPermission,
  gitopsTokensReadPermission,
  gitopsTokensManagePermission,
];
