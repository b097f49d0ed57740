export * from './status';
export { StateChip } from './StateChip';
export { OperationProgress } from './OperationProgress';
export { ActionButton } from './ActionButton';
export { ConfirmDialog } from './ConfirmDialog';
export { useActionPermissions } from './permissions';
export { useGitOpsActions } from './useGitOpsActions';
export { useEntityStatus, STATUS_REFRESH_MS } from './useEntityStatus';
export type { ActionPermissions } from './permissions';
