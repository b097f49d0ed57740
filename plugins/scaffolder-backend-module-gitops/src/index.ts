/**
 * Scaffolder actions for GitOps delivery repositories.
 *
 * @packageDocumentation
 */
export { scaffolderModuleGitOps as default } from './module';
export * from './actions';
