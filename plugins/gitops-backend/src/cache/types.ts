import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';

/** The kinds whose served version is discovered; `Provider` and `Alert` are reported, not watched. */
export type DiscoveredKind = FluxKind | 'Provider' | 'Alert';

/** The parts of an object's metadata the cache keeps. */
export interface CachedMetadata {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A trimmed projection of one Flux object as last seen on one cluster. */
export interface CachedFluxObject {
  cluster: string;
  kind: FluxKind;
  /** The version it was watched at, e.g. `source.toolkit.fluxcd.io/v1`. */
  apiVersion: string;
  metadata: CachedMetadata;
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
}

/** A trimmed core v1 Event about a Flux object. */
export interface CachedEvent {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    /** Flux event metadata, e.g. `kustomize.toolkit.fluxcd.io/revision`. */
    annotations?: Record<string, string>;
  };
  involvedObject: FluxObjectRef & { uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  /** The latest occurrence (ISO): `lastTimestamp`, `eventTime` or creation. */
  lastSeen?: string;
  reportingController?: string;
}

/** What the cache knows about one cluster's connection. */
export interface ClusterHealth {
  /** Every watch of the cluster is open. */
  connected: boolean;
  /** Data may be out of date: not (yet) in sync, or a watch failed. */
  stale: boolean;
  /** The served apiVersion per Flux kind, e.g. `{ GitRepository: 'source.toolkit.fluxcd.io/v1' }`. */
  servedFluxVersions: Partial<Record<DiscoveredKind, string>>;
  /** Flux objects held in the cache (events not counted). */
  cachedObjects: number;
  /** When the cache last received a list or watch event (ISO). */
  lastEventAt?: string;
  /** When every watch was last open (ISO). */
  lastSyncedAt?: string;
  /** The most recent failure, kept after recovery. Never holds credentials. */
  lastError?: { message: string; at: string };
  /** Since when the data is stale (ISO); absent when fresh. */
  staleSince?: string;
}
