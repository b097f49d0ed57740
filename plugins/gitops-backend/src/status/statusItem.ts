import { z } from 'zod';
import { CachedEvent, CachedFluxObject } from '../cache/types';
import { FluxStatusItem, KStatus } from './types';

const EVENTS_PER_ITEM = 10;
/** OCI artifact annotations Flux copies into `status.artifact.metadata`. */
export const OCI_REVISION = 'org.opencontainers.image.revision';
export const OCI_SOURCE = 'org.opencontainers.image.source';

// What the cluster sent is not trusted: a malformed field is dropped, never fatal.
const optional = <T extends z.ZodTypeAny>(schema: T) =>
  schema.optional().catch(undefined);

const conditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional().catch(undefined),
  message: z.string().optional().catch(undefined),
});

const statusSchema = z.object({
  observedGeneration: optional(z.number()),
  conditions: z.array(conditionSchema).catch([]).default([]),
  lastHandledReconcileAt: optional(z.string()),
  lastAppliedRevision: optional(z.string()),
  lastAttemptedRevision: optional(z.string()),
  lastAppliedOriginRevision: optional(z.string()),
  artifact: optional(
    z.object({
      revision: optional(z.string()),
      metadata: optional(z.record(z.string())),
    }),
  ),
  // The cache keeps `status.inventory.entries[].id` packed, one id per line.
  inventoryIds: optional(z.string()),
});

const specSchema = z.object({
  suspend: optional(z.boolean()),
  interval: optional(z.string()),
  dependsOn: optional(
    z.array(z.object({ name: z.string(), namespace: optional(z.string()) })),
  ),
});

type Condition = z.infer<typeof conditionSchema>;

/** The status fields the plugin reads, each dropped when malformed. */
export function fluxStatusOf(object: Pick<CachedFluxObject, 'status'>) {
  return statusSchema.parse(object.status ?? {});
}

/**
 * kstatus as `flux` computes it: deletion → Terminating; generation not yet observed or
 * `Reconciling=True` → InProgress; `Stalled=True` → Failed; otherwise Current.
 */
export function kstatusOf(
  object: Pick<CachedFluxObject, 'metadata' | 'status'>,
): KStatus {
  if (object.metadata.deletionTimestamp) return 'Terminating';
  const status = fluxStatusOf(object);
  const isTrue = (type: string) =>
    status.conditions.some(c => c.type === type && c.status === 'True');
  const { generation } = object.metadata;
  if (
    generation !== undefined &&
    status.observedGeneration !== undefined &&
    generation !== status.observedGeneration
  ) {
    return 'InProgress';
  }
  if (isTrue('Reconciling')) return 'InProgress';
  if (isTrue('Stalled')) return 'Failed';
  return 'Current';
}

function readyOf(conditions: Condition[]): FluxStatusItem['ready'] {
  const ready = conditions.find(c => c.type === 'Ready');
  const status =
    ready?.status === 'True' || ready?.status === 'False'
      ? ready.status
      : 'Unknown';
  return withoutUndefined({
    status,
    reason: ready?.reason || undefined,
    message: ready?.message || undefined,
  });
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as T;
}

/**
 * The status item of each cached object, without its events. The watch caches replace an
 * object on every change, so an object's item never goes stale: a page view at 50
 * clusters builds it once per change instead of once per request.
 */
const itemsOfObjects = new WeakMap<
  CachedFluxObject,
  Omit<FluxStatusItem, 'events'>
>();

function objectItem(object: CachedFluxObject): Omit<FluxStatusItem, 'events'> {
  const { namespace, name } = object.metadata;
  const status = fluxStatusOf(object);
  const spec = specSchema.parse(object.spec ?? {});
  const inventory =
    status.inventoryIds === undefined
      ? undefined
      : status.inventoryIds.split('\n').filter(Boolean);
  return withoutUndefined<Omit<FluxStatusItem, 'events'>>({
    kind: object.kind,
    name,
    namespace,
    kstatus: kstatusOf(object),
    ready: readyOf(status.conditions),
    suspended: spec.suspend === true,
    interval: spec.interval,
    lastHandledReconcileAt: status.lastHandledReconcileAt,
    artifactRevision: status.artifact?.revision,
    lastAppliedRevision: status.lastAppliedRevision,
    lastAttemptedRevision: status.lastAttemptedRevision,
    originRevision:
      status.lastAppliedOriginRevision ??
      status.artifact?.metadata?.[OCI_REVISION],
    inventory: object.kind === 'Kustomization' ? inventory ?? [] : inventory,
    dependsOn: spec.dependsOn?.map(d => ({
      name: d.name,
      namespace: d.namespace || namespace,
    })),
  });
}

/** The status item of a cached Flux object with its latest events. */
export function toStatusItem(
  object: CachedFluxObject,
  events: CachedEvent[],
): FluxStatusItem {
  let item = itemsOfObjects.get(object);
  if (!item) {
    item = objectItem(object);
    itemsOfObjects.set(object, item);
  }
  return {
    ...item,
    events: events.slice(0, EVENTS_PER_ITEM).map(event =>
      withoutUndefined({
        type: event.type,
        reason: event.reason,
        message: event.message,
        count: event.count,
        lastSeen: event.lastSeen,
      }),
    ),
  };
}

/** The commit sha of a Git revision (`main@sha1:<sha>`, `sha1:<sha>`, `main/<sha>`, a bare sha). */
export function shaOfRevision(
  revision: string | undefined,
): string | undefined {
  if (!revision) return undefined;
  // Flux < 2.0 wrote `main/<sha>`.
  return /(?:^|[@/])(?:sha1:)?([0-9a-f]{40})$/.exec(revision)?.[1];
}
