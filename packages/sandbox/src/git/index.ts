export { GitHost, assertRepositoryRelativePath } from './host';
export type { CreateRepositoryOptions, RefsUpdateListener } from './host';
export { GitRepository, ZERO_SHA } from './repository';
export type {
  CommitStats,
  FileChanges,
  FileDiff,
  GitCommit,
  GitPerson,
  LogOptions,
  RefChange,
  RefsUpdate,
} from './repository';
export {
  assertRepositoryPath,
  commitDirectory,
  commitFiles,
  createRepositoryFromDirectory,
} from './commit';
export type { CommitOptions, FileEdits } from './commit';
export { parseGitHttpRequest, serveGitHttpBackend } from './http-backend';
export type {
  GitHttpBackendTarget,
  GitHttpEndpoint,
  GitHttpRequest,
  GitService,
} from './http-backend';
export { GitCommandError, gitEnvironment, runGit } from './run';
export type { RunGitOptions } from './run';
