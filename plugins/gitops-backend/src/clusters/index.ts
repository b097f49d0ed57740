export type { GitOpsCluster, GitOpsClusterSettings } from './types';
export { kubeConfigFor } from './kubeConfig';
export { readGitOpsConfig } from './config';
export {
  DefaultClusterRegistry,
  clusterRegistrationSchema,
} from './ClusterRegistry';
export type {
  ClusterRegistry,
  ClusterRegistryOptions,
  ClusterRegistration,
} from './ClusterRegistry';
export { createClusterRoutes } from './router';
export type { ClusterHealth, ClusterHealthSource } from './router';
