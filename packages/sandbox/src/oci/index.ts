export { startRegistry } from './registry';
export type { RunningRegistry, StartRegistryOptions } from './registry';
export type {
  RegistryAccessRequest,
  RegistryAction,
  RegistryAuthorizer,
} from './registryProxy';
export {
  listTags,
  pullArtifact,
  pushArtifact,
  resolveArtifact,
} from './client';
export type {
  OciArtifactRef,
  OciConnection,
  OciCredentials,
  PullArtifactOptions,
  PulledArtifact,
  PushArtifactOptions,
  PushArtifactResult,
  ResolvedArtifact,
} from './client';
export { OciAuthError, OciError, OciNotFoundError } from './errors';
export { parseOciUrl } from './reference';
export type { OciRepositoryRef } from './reference';
export {
  parseSemVer,
  compareSemVer,
  parseSemVerRange,
  selectHighestTag,
} from './semver';
export type { SemVer, SemVerRange } from './semver';
export * from './mediaTypes';
