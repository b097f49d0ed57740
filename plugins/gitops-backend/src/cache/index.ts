export { FluxCache } from './FluxCache';
export type { FluxCacheOptions } from './FluxCache';
export type { BackoffOptions } from './ClusterCache';
export type {
  CachedEvent,
  CachedFluxObject,
  CachedMetadata,
  ClusterHealth,
  DiscoveredKind,
} from './types';
