export { startGitLab, DEFAULT_GITLAB_VERSION } from './server';
export type { GitLabOptions, RunningGitLab } from './server';
export { GitLabAdmin } from './admin';
export type {
  CreatedToken,
  GroupSummary,
  OAuthApplicationSummary,
  ProjectSummary,
  TokenRequest,
  UserSummary,
} from './admin';
export { AccessLevel } from './state';
export type { Visibility } from './state';
export type { FailNextOptions, FaultScope } from './faults';
export type { HookDelivery } from './webhooks';
export type {
  PushHookCommit,
  PushHookPayload,
  PushListener,
  PushNotification,
} from './push-events';
export { parseSshPublicKey } from './ssh-keys';
export type { SshPublicKey } from './ssh-keys';
