import { FluxKind, isFluxKind } from '../actions/fluxKinds';
import { CachedEvent, CachedFluxObject, CachedMetadata } from './types';

type Raw = Record<string, any>;

// Written by `kubectl apply`: a full copy of the object, useless here and often large.
const DROPPED_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
];

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Watch events carry RFC 3339 strings, typed list responses `Date`s. */
function toIso(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' && value ? value : undefined;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value).filter(
    ([key, v]) => typeof v === 'string' && !DROPPED_ANNOTATIONS.includes(key),
  );
  return entries.length ? Object.fromEntries(entries) : undefined;
}

function metadataOf(raw: Raw): CachedMetadata {
  const m: Raw = isRecord(raw.metadata) ? raw.metadata : {};
  return {
    name: String(m.name ?? ''),
    namespace: String(m.namespace ?? ''),
    uid: m.uid,
    generation: typeof m.generation === 'number' ? m.generation : undefined,
    resourceVersion: m.resourceVersion,
    creationTimestamp: toIso(m.creationTimestamp),
    deletionTimestamp: toIso(m.deletionTimestamp),
    labels: stringMap(m.labels),
    annotations: stringMap(m.annotations),
  };
}

/**
 * Keeps what discovery, status and actions read: the rest of what the API server sends
 * (managedFields, owner references, large annotations) is dropped so memory stays bounded.
 */
export function projectFluxObject(
  raw: Raw,
  cluster: string,
  kind: FluxKind,
  apiVersion: string,
): CachedFluxObject {
  const spec: Raw = isRecord(raw.spec) ? { ...raw.spec } : {};
  if (kind === 'HelmRelease') {
    // Values can be large and can carry secrets; nothing the cache serves needs them.
    delete spec.values;
  }
  return {
    cluster,
    kind,
    apiVersion,
    metadata: metadataOf(raw),
    spec,
    status: isRecord(raw.status) ? raw.status : {},
  };
}

/** The event's projection when it is about a Flux object, otherwise undefined. */
export function projectFluxEvent(raw: Raw): CachedEvent | undefined {
  const involved: Raw = isRecord(raw.involvedObject) ? raw.involvedObject : {};
  const kind = String(involved.kind ?? '');
  const apiVersion = String(involved.apiVersion ?? '');
  // Other operators have kinds named like Flux's (e.g. Bucket): the group decides.
  if (!isFluxKind(kind) || !apiVersion.includes('.toolkit.fluxcd.io/')) {
    return undefined;
  }
  const metadata = metadataOf(raw);
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      annotations: metadata.annotations,
    },
    involvedObject: {
      kind,
      namespace: String(involved.namespace ?? metadata.namespace),
      name: String(involved.name ?? ''),
      uid: involved.uid,
    },
    type: raw.type,
    reason: raw.reason,
    message: raw.message,
    count: typeof raw.count === 'number' ? raw.count : undefined,
    lastSeen:
      toIso(raw.lastTimestamp) ??
      toIso(raw.eventTime) ??
      toIso(raw.series?.lastObservedTime) ??
      metadata.creationTimestamp,
    reportingController: raw.reportingComponent ?? raw.source?.component,
  };
}
