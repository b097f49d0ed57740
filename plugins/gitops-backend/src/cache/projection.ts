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

/**
 * A copy without undefined fields, built by adding properties (deleting them would turn a
 * V8 object into a slower and larger dictionary).
 */
function compact<T extends Raw>(fields: T): T {
  const out: Raw = {};
  for (const key of Object.keys(fields)) {
    if (fields[key] !== undefined) out[key] = fields[key];
  }
  return out as T;
}

function metadataOf(raw: Raw, options: { created: boolean }): CachedMetadata {
  const m: Raw = isRecord(raw.metadata) ? raw.metadata : {};
  return compact({
    name: String(m.name ?? ''),
    namespace: shared(String(m.namespace ?? '')) ?? '',
    uid: m.uid,
    generation: typeof m.generation === 'number' ? m.generation : undefined,
    resourceVersion: m.resourceVersion,
    creationTimestamp: options.created ? toIso(m.creationTimestamp) : undefined,
    deletionTimestamp: toIso(m.deletionTimestamp),
    labels: stringMap(m.labels),
    annotations: stringMap(m.annotations),
  });
}

/**
 * Strings every cluster repeats (namespaces, condition types, reasons, intervals): one copy
 * each for the whole process. Bounded, so odd values cannot grow it without limit.
 */
const vocabulary = new Map<string, string>();
const VOCABULARY_LIMIT = 10_000;

function shared(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const known = vocabulary.get(value);
  if (known !== undefined) return known;
  if (vocabulary.size < VOCABULARY_LIMIT) vocabulary.set(value, value);
  return value;
}

/** The spec fields discovery, status, actions and token inventory read. */
const KEPT_SPEC_FIELDS = [
  'url',
  'ref',
  'secretRef',
  'provider',
  'sourceRef',
  'chart',
  'chartRef',
  'path',
  'targetNamespace',
  'suspend',
  'interval',
  'dependsOn',
];

function specOf(raw: Raw, kind: FluxKind): Raw {
  if (!isRecord(raw.spec)) return {};
  // The Receiver manager compares a whole Receiver spec with the one it wants.
  if (kind === 'Receiver') return raw.spec;
  const spec: Raw = {};
  for (const field of KEPT_SPEC_FIELDS) {
    if (raw.spec[field] !== undefined) spec[field] = raw.spec[field];
  }
  if (typeof spec.interval === 'string') spec.interval = shared(spec.interval);
  return spec;
}

/** The conditions kstatus and the sync outcome read; others (ArtifactInStorage, Healthy…) are not kept. */
const KEPT_CONDITIONS = new Set(['Ready', 'Reconciling', 'Stalled']);

function conditionsOf(value: unknown, same: (text: unknown) => unknown) {
  if (!Array.isArray(value)) return undefined;
  const kept = value.filter(
    condition => isRecord(condition) && KEPT_CONDITIONS.has(condition.type),
  );
  return kept.map(condition =>
    compact({
      type: shared(condition.type),
      status: shared(condition.status),
      reason: shared(condition.reason),
      // Flux repeats one message over several conditions of an object.
      message: same(condition.message),
    }),
  );
}

/**
 * A Kustomization's inventory ids (`namespace_name_group_kind`, which cannot hold a line
 * break) as one string, one per line: five ids cost ~190 bytes so, ~550 as entry objects.
 */
function packInventory(entries: unknown[]): string {
  return entries
    .filter(isRecord)
    .map(entry => entry.id)
    .filter((id): id is string => typeof id === 'string')
    .join('\n');
}

/** The status fields status, actions and receivers read; the rest (history, artifact URLs) is dropped. */
function statusOf(raw: Raw): Raw {
  if (!isRecord(raw.status)) return {};
  const status: Raw = raw.status;
  // Within one object the same revision appears as attempted, applied and in messages.
  const texts = new Map<string, string>();
  const same = (text: unknown) => {
    if (typeof text !== 'string') return undefined;
    const known = texts.get(text);
    if (known !== undefined) return known;
    texts.set(text, text);
    return text;
  };
  const artifact = isRecord(status.artifact) ? status.artifact : undefined;
  const metadata = isRecord(artifact?.metadata)
    ? stringMap(artifact!.metadata)
    : undefined;
  const inventory = isRecord(status.inventory) ? status.inventory : undefined;
  return compact({
    observedGeneration: status.observedGeneration,
    conditions: conditionsOf(status.conditions, same),
    lastHandledReconcileAt: status.lastHandledReconcileAt,
    lastAppliedRevision: same(status.lastAppliedRevision),
    lastAttemptedRevision: same(status.lastAttemptedRevision),
    lastAppliedOriginRevision: same(status.lastAppliedOriginRevision),
    artifact: artifact && {
      revision: same(artifact.revision),
      ...(metadata && { metadata }),
    },
    inventoryIds: Array.isArray(inventory?.entries)
      ? packInventory(inventory!.entries)
      : undefined,
    webhookPath: status.webhookPath,
  });
}

/**
 * Keeps what discovery, status, actions and receivers read: the rest of what the API
 * server sends (managedFields, owner references, large annotations, patches, values,
 * artifact URLs, condition timestamps) is dropped so memory stays bounded: a million
 * cached objects is the goal on one backend.
 */
export function projectFluxObject(
  raw: Raw,
  cluster: string,
  kind: FluxKind,
  apiVersion: string,
): CachedFluxObject {
  return {
    cluster,
    kind,
    apiVersion,
    // Nothing reads when an object was created; events keep theirs.
    metadata: metadataOf(raw, { created: false }),
    spec: specOf(raw, kind),
    status: statusOf(raw),
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
  const metadata = metadataOf(raw, { created: true });
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
