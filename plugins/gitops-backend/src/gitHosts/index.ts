export { GitHosts } from './GitHosts';
export type {
  CommitStatus,
  GitHostClient,
  GitHostKind,
  PushWebhook,
  ReadAccess,
} from './GitHosts';
export { describeGitHostError } from './gitlabApi';
export { RepositoryAccess } from './RepositoryAccess';
