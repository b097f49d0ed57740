export { GitHosts } from './GitHosts';
export type {
  CommitStatus,
  GitHostClient,
  GitHostKind,
  PushWebhook,
} from './GitHosts';
export { describeGitHostError } from './gitlabApi';
