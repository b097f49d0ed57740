import { randomBytes } from 'node:crypto';
import type { ClusterStore, KubeObject } from '../kube/types';
import { StoreError } from '../kube/types';
import { kubeTime } from './conditions';

const EVENT_TYPE = { apiVersion: 'v1', kind: 'Event' } as const;

/** The API server's `--event-ttl` (1h): older events are dropped. */
const EVENT_TTL_MS = 60 * 60_000;

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /**
   * Flux event metadata (`revision`, `originRevision`, `digest`, `commit_status`…). Keys
   * without a `/` are prefixed with the involved object's API group, as the Flux
   * controllers do before handing them to the event recorder.
   */
  metadata?: Record<string, string>;
  /** `source-controller`, `kustomize-controller`, `helm-controller`. */
  reportingController: string;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

function annotationsFor(
  involvedObject: KubeObject,
  metadata: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!metadata || Object.keys(metadata).length === 0) return undefined;
  const group = groupOf(involvedObject.apiVersion);
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    annotations[key.includes('/') || !group ? key : `${group}/${key}`] = value;
  }
  return annotations;
}

// The client-go event correlator aggregates on everything but the timestamps and count.
interface EventFields {
  involvedObject?: {
    uid?: string;
    kind?: string;
    name?: string;
    apiVersion?: string;
  };
  type?: string;
  reason?: string;
  message?: string;
  source?: { component?: string };
}

function sameEvent(existing: KubeObject, candidate: KubeObject): boolean {
  const a = existing as EventFields;
  const b = candidate as EventFields;
  return (
    a.involvedObject?.uid === b.involvedObject?.uid &&
    a.involvedObject?.kind === b.involvedObject?.kind &&
    a.involvedObject?.name === b.involvedObject?.name &&
    a.involvedObject?.apiVersion === b.involvedObject?.apiVersion &&
    a.type === b.type &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.source?.component === b.source?.component
  );
}

/** Deletes the events past the TTL and returns the others. */
function expireOldEvents(
  store: ClusterStore,
  events: KubeObject[],
): KubeObject[] {
  const cutoff = Date.now() - EVENT_TTL_MS;
  return events.filter(event => {
    const last = Date.parse(
      String((event as { lastTimestamp?: string }).lastTimestamp ?? ''),
    );
    if (Number.isNaN(last) || last >= cutoff) return true;
    try {
      store.delete(EVENT_TYPE, event.metadata.namespace, event.metadata.name);
    } catch (error) {
      if (!(error instanceof StoreError && error.code === 404)) throw error;
    }
    return false;
  });
}

/**
 * Records a core v1 Event about `involvedObject` in its namespace, the way client-go's
 * recorder does for the Flux controllers: a repeat of the same event bumps `count` and
 * `lastTimestamp` instead of creating a new one, and events past the API server's TTL
 * (1h) are dropped. Returns the stored Event, or undefined
 * when the namespace is gone (events are best effort, like in Kubernetes).
 */
export function recordEvent(
  store: ClusterStore,
  involvedObject: KubeObject,
  input: EventInput,
): KubeObject | undefined {
  const namespace = involvedObject.metadata.namespace ?? 'default';
  const now = kubeTime();
  const annotations = annotationsFor(involvedObject, input.metadata);
  const candidate: KubeObject = {
    ...EVENT_TYPE,
    metadata: {
      name: `${involvedObject.metadata.name}.${Date.now().toString(
        16,
      )}${randomBytes(3).toString('hex')}`,
      namespace,
      ...(annotations ? { annotations } : {}),
    },
    involvedObject: {
      apiVersion: involvedObject.apiVersion,
      kind: involvedObject.kind,
      name: involvedObject.metadata.name,
      namespace: involvedObject.metadata.namespace,
      uid: involvedObject.metadata.uid,
      resourceVersion: involvedObject.metadata.resourceVersion,
    },
    reason: input.reason,
    message: input.message,
    type: input.type,
    source: { component: input.reportingController },
    reportingComponent: input.reportingController,
    reportingInstance: `${input.reportingController}-0`,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
  try {
    const live = expireOldEvents(
      store,
      store.list(EVENT_TYPE, { namespace }).items,
    );
    const existing = live.find(event => sameEvent(event, candidate));
    if (existing) {
      return store.mergePatch(EVENT_TYPE, namespace, existing.metadata.name, {
        metadata: annotations ? { annotations } : {},
        count: (Number((existing as { count?: number }).count) || 1) + 1,
        lastTimestamp: now,
      });
    }
    return store.create(candidate);
  } catch (error) {
    if (
      error instanceof StoreError &&
      (error.code === 404 || error.code === 403)
    ) {
      return undefined;
    }
    throw error;
  }
}
