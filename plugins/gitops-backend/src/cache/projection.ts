import { FluxKind, isFluxKind } from '../actions/fluxKinds';
import { CachedEvent, CachedFluxObject, CachedMetadata } from './types';

type Raw = Record<string, any>;

// Written by `kubectl apply`: a full copy of the object, useless here and often large.
const DROPPED_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
];

/**
 * What one cached object may hold, whatever the cluster sends (a cluster is not trusted:
 * a hostile or broken one must not grow the backend's memory without limit). Values the
 * plugin parses (names, revisions, keys) are dropped when too long, since a cut one would
 * be wrong; free text (messages) is cut. With these caps a projection is at most about
 * 110 kB of JSON, plus a Kustomization's packed inventory (at most 256 kB).
 */
export const PROJECTION_LIMITS = {
  /** Kubernetes' own limits: a name 253 characters, a namespace 63. */
  name: 253,
  /** uid, resourceVersion, timestamps, condition type/status/reason, event type/reason. */
  token: 128,
  /** Label and annotation entries kept per object (the plugin's own keys first). */
  mapEntries: 32,
  /** A qualified key: a 253-character DNS prefix, `/`, a 63-character name. */
  mapKey: 317,
  /** Kubernetes' limit for a label value. */
  labelValue: 63,
  /** Annotation and artifact metadata values; longer ones are dropped. */
  annotationValue: 512,
  /** A revision (`main@sha1:<sha>`, `latest@sha256:<digest>`) or webhook path. */
  revision: 512,
  /** Condition and event messages, cut with an ellipsis beyond this. */
  message: 2048,
  /** Characters of kept spec fields together (a Receiver's whole spec: 32 kB). */
  specChars: 8 * 1024,
  receiverSpecChars: 32 * 1024,
  /** Depth of a kept spec field, and entries of any one of its arrays or objects. */
  specDepth: 4,
  specEntries: 256,
  /** Inventory ids of a Kustomization, and their characters together. */
  inventoryEntries: 4_000,
  inventoryChars: 256 * 1024,
  /** Strings shared process-wide (see `shared`) are at most this long. */
  sharedString: 256,
} as const;

/** Keys the plugin reads (receivers, entity ids, Flux's own): kept before any other. */
const READ_KEY_PREFIXES = [
  'gitops.backstage.io/',
  'backstage.io/',
  'app.kubernetes.io/managed-by',
  'reconcile.fluxcd.io/',
  'toolkit.fluxcd.io/',
  'kustomize.toolkit.fluxcd.io/',
  'source.toolkit.fluxcd.io/',
  'helm.toolkit.fluxcd.io/',
  'notification.toolkit.fluxcd.io/',
  'event.toolkit.fluxcd.io/',
  'org.opencontainers.image.',
];

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string no longer than `max`, else undefined (for values that are parsed or compared). */
function bounded(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length <= max ? value : undefined;
}

/** A text cut to `max` characters (for messages, which are only shown). */
function cut(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length <= max ? value : `${value.slice(0, max - 1)}\u2026`;
}

/** Watch events carry RFC 3339 strings, typed list responses `Date`s. */
function toIso(value: unknown): string | undefined {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  }
  return bounded(value, PROJECTION_LIMITS.token) || undefined;
}

/**
 * Labels, annotations or artifact metadata: string values only, at most
 * `mapEntries` of them (the keys the plugin reads first), each key and value within
 * its limit (a longer one is dropped).
 */
function stringMap(
  value: unknown,
  maxValue: number = PROJECTION_LIMITS.annotationValue,
): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const read: [string, string][] = [];
  const other: [string, string][] = [];
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const v = value[key];
    if (
      typeof v !== 'string' ||
      v.length > maxValue ||
      key.length > PROJECTION_LIMITS.mapKey ||
      DROPPED_ANNOTATIONS.includes(key)
    ) {
      continue;
    }
    const isRead = READ_KEY_PREFIXES.some(prefix => key.startsWith(prefix));
    if (isRead && read.length < PROJECTION_LIMITS.mapEntries) {
      read.push([key, v]);
    } else if (!isRead && other.length < PROJECTION_LIMITS.mapEntries) {
      other.push([key, v]);
    }
    if (read.length >= PROJECTION_LIMITS.mapEntries) break;
  }
  const entries = [...read, ...other].slice(0, PROJECTION_LIMITS.mapEntries);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/**
 * A copy of a JSON value from the cluster within a character budget (strings and keys
 * count their length), a depth and a number of entries per array or object: what does
 * not fit is left out. Only JSON values are copied (no functions, no prototypes).
 */
function boundedJson(
  value: unknown,
  budget: { left: number },
  depth = 0,
): unknown {
  if (budget.left <= 0) return undefined;
  if (typeof value === 'string') {
    if (value.length > budget.left) return undefined;
    budget.left -= value.length + 2;
    return value;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    budget.left -= 8;
    return Number.isFinite(value) || typeof value === 'boolean'
      ? value
      : undefined;
  }
  if (value === null) {
    budget.left -= 4;
    return null;
  }
  if (depth >= PROJECTION_LIMITS.specDepth) return undefined;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value.slice(0, PROJECTION_LIMITS.specEntries)) {
      const copy = boundedJson(item, budget, depth + 1);
      if (copy === undefined) break;
      out.push(copy);
    }
    budget.left -= 2;
    return out;
  }
  if (isRecord(value)) {
    const out: Raw = {};
    let entries = 0;
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      if (entries++ >= PROJECTION_LIMITS.specEntries) break;
      if (key.length > PROJECTION_LIMITS.mapKey || key === '__proto__') {
        continue;
      }
      budget.left -= key.length + 3;
      const copy = boundedJson(value[key], budget, depth + 1);
      if (copy !== undefined) out[key] = copy;
    }
    budget.left -= 2;
    return out;
  }
  return undefined;
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

/**
 * Kubernetes' object name syntax (a DNS subdomain; a namespace is a DNS label, which
 * this includes): names go into API paths, where `..` or `/` would go elsewhere.
 */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Whether `value` is a Kubernetes object name, safe to put into an API path. */
export function isObjectName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= PROJECTION_LIMITS.name &&
    OBJECT_NAME.test(value)
  );
}

/** A name or namespace: a Kubernetes name within the limit, else empty (never matched). */
function nameOf(value: unknown, max: number): string {
  const name = bounded(value, max);
  return name !== undefined && OBJECT_NAME.test(name) ? name : '';
}

function metadataOf(raw: Raw, options: { created: boolean }): CachedMetadata {
  const m: Raw = isRecord(raw.metadata) ? raw.metadata : {};
  return compact({
    name: nameOf(m.name, PROJECTION_LIMITS.name),
    namespace: shared(nameOf(m.namespace, PROJECTION_LIMITS.name)) ?? '',
    uid: bounded(m.uid, PROJECTION_LIMITS.token),
    generation: Number.isSafeInteger(m.generation) ? m.generation : undefined,
    resourceVersion: bounded(m.resourceVersion, PROJECTION_LIMITS.token),
    creationTimestamp: options.created ? toIso(m.creationTimestamp) : undefined,
    deletionTimestamp: toIso(m.deletionTimestamp),
    labels: stringMap(m.labels, PROJECTION_LIMITS.labelValue),
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
  // A long odd value would stay in the vocabulary for the life of the process.
  if (value.length > PROJECTION_LIMITS.sharedString) return value;
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
  if (kind === 'Receiver') {
    return boundedJson(raw.spec, {
      left: PROJECTION_LIMITS.receiverSpecChars,
    }) as Raw;
  }
  const spec: Raw = {};
  const budget = { left: PROJECTION_LIMITS.specChars };
  for (const field of KEPT_SPEC_FIELDS) {
    if (raw.spec[field] === undefined) continue;
    const copy = boundedJson(raw.spec[field], budget);
    if (copy !== undefined) spec[field] = copy;
  }
  if (typeof spec.interval === 'string') spec.interval = shared(spec.interval);
  return spec;
}

/** The conditions kstatus and the sync outcome read; others (ArtifactInStorage, Healthy…) are not kept. */
const KEPT_CONDITIONS = new Set(['Ready', 'Reconciling', 'Stalled']);

function conditionsOf(value: unknown, same: (text: unknown) => unknown) {
  if (!Array.isArray(value)) return undefined;
  // The first of each kept type (a list of a million Ready conditions keeps one).
  const byType = new Map<string, Raw>();
  for (const condition of value) {
    if (byType.size === KEPT_CONDITIONS.size) break;
    if (
      isRecord(condition) &&
      KEPT_CONDITIONS.has(condition.type) &&
      !byType.has(condition.type)
    ) {
      byType.set(condition.type, condition);
    }
  }
  return [...byType.values()].map(condition =>
    compact({
      type: shared(condition.type),
      status: shared(bounded(condition.status, PROJECTION_LIMITS.token)),
      reason: shared(bounded(condition.reason, PROJECTION_LIMITS.token)),
      // Flux repeats one message over several conditions of an object.
      message: same(cut(condition.message, PROJECTION_LIMITS.message)),
    }),
  );
}

/**
 * A Kustomization's inventory ids (`namespace_name_group_kind`, which cannot hold a line
 * break) as one string, one per line: five ids cost ~190 bytes so, ~550 as entry objects.
 * At most `inventoryEntries` ids and `inventoryChars` characters are kept (the first
 * ones); an id that cannot be one (too long, a line break) is skipped.
 */
function packInventory(entries: unknown[]): string {
  const ids: string[] = [];
  let chars = 0;
  for (const entry of entries) {
    if (ids.length >= PROJECTION_LIMITS.inventoryEntries) break;
    const id = isRecord(entry)
      ? bounded(entry.id, 2 * PROJECTION_LIMITS.name + 2 * 63 + 3)
      : undefined;
    if (!id || id.includes('\n')) continue;
    if (chars + id.length + 1 > PROJECTION_LIMITS.inventoryChars) break;
    chars += id.length + 1;
    ids.push(id);
  }
  return ids.join('\n');
}

/** The status fields status, actions and receivers read; the rest (history, artifact URLs) is dropped. */
function statusOf(raw: Raw): Raw {
  if (!isRecord(raw.status)) return {};
  const status: Raw = raw.status;
  // Within one object the same revision appears as attempted, applied and in messages.
  const texts = new Map<string, string>();
  const same = (text: unknown) => {
    if (typeof text !== 'string') return undefined;
    if (text.length > PROJECTION_LIMITS.message) return undefined;
    const known = texts.get(text);
    if (known !== undefined) return known;
    texts.set(text, text);
    return text;
  };
  const revision = (value: unknown) =>
    same(bounded(value, PROJECTION_LIMITS.revision));
  const artifact = isRecord(status.artifact) ? status.artifact : undefined;
  const metadata = isRecord(artifact?.metadata)
    ? stringMap(artifact!.metadata)
    : undefined;
  const inventory = isRecord(status.inventory) ? status.inventory : undefined;
  return compact({
    observedGeneration: Number.isSafeInteger(status.observedGeneration)
      ? status.observedGeneration
      : undefined,
    conditions: conditionsOf(status.conditions, same),
    lastHandledReconcileAt: bounded(
      status.lastHandledReconcileAt,
      PROJECTION_LIMITS.token,
    ),
    lastAppliedRevision: revision(status.lastAppliedRevision),
    lastAttemptedRevision: revision(status.lastAttemptedRevision),
    lastAppliedOriginRevision: revision(status.lastAppliedOriginRevision),
    artifact: artifact && {
      revision: revision(artifact.revision),
      ...(metadata && { metadata }),
    },
    inventoryIds: Array.isArray(inventory?.entries)
      ? packInventory(inventory!.entries)
      : undefined,
    // Checked against Flux's form where it is used (receivers/ReceiverTrigger.ts).
    webhookPath: bounded(status.webhookPath, PROJECTION_LIMITS.revision),
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
  const kind = bounded(involved.kind, PROJECTION_LIMITS.token) ?? '';
  const apiVersion =
    bounded(involved.apiVersion, PROJECTION_LIMITS.token) ?? '';
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
      namespace:
        involved.namespace === undefined
          ? metadata.namespace
          : nameOf(involved.namespace, PROJECTION_LIMITS.name),
      name: nameOf(involved.name, PROJECTION_LIMITS.name),
      uid: bounded(involved.uid, PROJECTION_LIMITS.token),
    },
    type: bounded(raw.type, PROJECTION_LIMITS.token),
    reason: bounded(raw.reason, PROJECTION_LIMITS.token),
    message: cut(raw.message, PROJECTION_LIMITS.message),
    count: Number.isSafeInteger(raw.count) ? raw.count : undefined,
    lastSeen:
      toIso(raw.lastTimestamp) ??
      toIso(raw.eventTime) ??
      toIso(isRecord(raw.series) ? raw.series.lastObservedTime : undefined) ??
      metadata.creationTimestamp,
    reportingController: bounded(
      raw.reportingComponent ??
        (isRecord(raw.source) ? raw.source.component : undefined),
      PROJECTION_LIMITS.name,
    ),
  };
}
