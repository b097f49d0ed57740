export * from './GitOpsApi';
export * from './GitOpsClient';
