export * from './types';
export { loadResourceTypes } from './resourceTypes';
export type {
  ResourceTypeOptions,
  ServedResourceType,
  SourceApiVersion,
} from './resourceTypes';
export { createClusterStore } from './store';
export type {
  ClusterStoreOptions,
  DeleteOptions,
  KubeClusterStore,
  WriteOptions,
} from './store';
export { startKubeApiServer } from './server';
export type { KubeApiServer, KubeApiServerOptions } from './server';
export { certificateAuthorityData, generateKubeTls } from './tls';
export type { KubeTlsMaterial, KubeTlsOptions } from './tls';
export { CLUSTER_ADMIN_RULES } from './authorization';
export {
  rulesForIdentity,
  rulesForServiceAccount,
  rulesFromStore,
  serviceAccountIdentity,
} from './rbac';
export type { RbacIdentity, ServiceAccountRef } from './rbac';
export { impersonate } from './impersonation';
export { BOOTSTRAP_RBAC } from './bootstrapRbac';
export type { PolicyRule, TokenGrant, Verb } from './authorization';
export type { FaultState, KubeApiFaults } from './faults';
export type { ServiceHandler } from './serviceProxy';
export { StoreErrorWithCauses } from './errors';
export type { StatusCause } from './errors';
export { FieldValidationError } from './validation';
export type { FieldCause } from './validation';
export { parseFieldSelector, parseLabelSelector } from './selectors';
export {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
} from './patch';
