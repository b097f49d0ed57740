/**
 * Shared types, annotations and permissions of the GitOps plugins.
 *
 * @packageDocumentation
 */
export * from './annotations';
export * from './entity';
export * from './permissions';
export * from './repositoryUrl';
export * from './types';
export * from './api';
export * from './operations';
