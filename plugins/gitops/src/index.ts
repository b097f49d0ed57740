/**
 * The GitOps frontend plugin: Flux status and Sync now on entity pages.
 *
 * @packageDocumentation
 */
export {
  gitopsPlugin,
  EntityGitOpsContent,
  EntityGitOpsCard,
  GitOpsTokensPage,
} from './plugin';
export { isGitOpsAvailable } from '@backstage-gitops/plugin-gitops-common';
export * from './api';
