export { EntityStatusService } from './EntityStatusService';
export type {
  EntityStatusServiceOptions,
  StatusCache,
} from './EntityStatusService';
export { GitLabRepositories, GitHostError } from './GitLabRepositories';
export { createStatusRoutes } from './router';
export { kstatusOf } from './statusItem';
export type * from './types';
