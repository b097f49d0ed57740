export {
  CommitStatusReporter,
  readCommitStatusSettings,
} from './CommitStatusReporter';
export type {
  CommitStatusSettings,
  SyncOutcome,
  TriggeredSync,
} from './CommitStatusReporter';
export { notifyOwnersOfFailure } from './ownerNotifications';
