import type { ClusterStore, KubeObject, WatchEvent } from '../../kube/types';
import { StoreError } from '../../kube/types';
import {
  NOTIFICATION_FINALIZER,
  RECEIVER,
  RECONCILE_REQUEST_ANNOTATION,
  SECRET,
} from './apiRefs';
import {
  Conditions,
  PROGRESSING_REASON,
  PROGRESSING_WITH_RETRY_REASON,
  READY,
  RECONCILING,
  SUCCEEDED_REASON,
} from '../conditions';
import { durationOr, formatGoDuration } from '../duration';
import type { EventRecorder } from './eventRecorder';
import {
  readReceiverToken,
  receiverSpec,
  receiverStatus,
  receiverWebhookPath,
  type ReceiverStatus,
} from './receiver';
import { FailureBackoff, WorkQueue } from './workQueue';

const DEFAULT_INTERVAL_MS = 10 * 60_000;

interface ReconcileOutcome {
  requeueAfterMs?: number;
  error?: string;
}

function intervalMs(receiver: KubeObject): number {
  return durationOr(receiverSpec(receiver).interval, DEFAULT_INTERVAL_MS);
}

/** The token step of ReceiverReconciler.reconcile: Ready and webhookPath from the Secret. */
function reconcileWebhookPath(
  store: ClusterStore,
  receiver: KubeObject,
  conditions: Conditions,
  draft: ReceiverStatus,
): ReconcileOutcome {
  conditions.markReconciling(PROGRESSING_REASON, 'Reconciliation in progress');
  const lookup = readReceiverToken(store, receiver);
  if (!lookup.ok) {
    conditions.markFalse(READY, 'TokenNotFound', lookup.error);
    delete draft.webhookPath;
    return { error: lookup.error };
  }
  const { name, namespace = '' } = receiver.metadata;
  const webhookPath = receiverWebhookPath(lookup.token, name, namespace);
  conditions.markTrue(
    READY,
    SUCCEEDED_REASON,
    `Receiver initialized for path: ${webhookPath}`,
  );
  draft.webhookPath = webhookPath;
  return { requeueAfterMs: intervalMs(receiver) };
}

/** What the deferred patch of the real reconciler does to the status before writing it. */
function summarizeStatus(
  receiver: KubeObject,
  conditions: Conditions,
  draft: ReceiverStatus,
): void {
  const requestedAt =
    receiver.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
  if (requestedAt !== undefined) {
    draft.lastHandledReconcileAt = requestedAt;
  }
  if (conditions.isTrue(READY)) {
    conditions.delete(RECONCILING);
    draft.observedGeneration = receiver.metadata.generation;
  }
  const reconciling = conditions.get(RECONCILING);
  if (conditions.isFalse(READY) && reconciling) {
    conditions.set(
      RECONCILING,
      reconciling.status,
      PROGRESSING_WITH_RETRY_REASON,
      reconciling.message,
    );
  }
  const list = conditions.list();
  if (list.length > 0 || draft.conditions) {
    draft.conditions = list;
  }
}

function writeStatus(
  store: ClusterStore,
  receiver: KubeObject,
  draft: ReceiverStatus,
): void {
  const current = receiverStatus(receiver) as Record<string, unknown>;
  const next = draft as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(current), ...Object.keys(next)])) {
    if (JSON.stringify(current[key]) !== JSON.stringify(next[key])) {
      patch[key] = next[key] ?? null;
    }
  }
  if (Object.keys(patch).length === 0) {
    return;
  }
  const { name, namespace } = receiver.metadata;
  store.mergePatch(
    RECEIVER,
    namespace,
    name,
    { status: patch },
    { subresource: 'status' },
  );
}

/** One pass of the notification-controller's ReceiverReconciler; undefined once the object is gone. */
export function reconcileReceiver(
  store: ClusterStore,
  recorder: EventRecorder,
  namespace: string,
  name: string,
): ReconcileOutcome | undefined {
  const receiver = store.get(RECEIVER, namespace, name);
  if (!receiver) {
    return undefined;
  }
  const finalizers = receiver.metadata.finalizers ?? [];
  if (receiver.metadata.deletionTimestamp) {
    if (finalizers.includes(NOTIFICATION_FINALIZER)) {
      store.mergePatch(RECEIVER, namespace, name, {
        metadata: {
          finalizers: finalizers.filter(f => f !== NOTIFICATION_FINALIZER),
        },
      });
    }
    return {};
  }

  const draft: ReceiverStatus = structuredClone(receiverStatus(receiver));
  const conditions = new Conditions(
    draft.conditions,
    receiver.metadata.generation ?? 0,
  );
  let outcome: ReconcileOutcome;
  if (!finalizers.includes(NOTIFICATION_FINALIZER)) {
    // Added first, on a pass of its own, to avoid racing a deletion.
    store.mergePatch(RECEIVER, namespace, name, {
      metadata: { finalizers: [...finalizers, NOTIFICATION_FINALIZER] },
    });
    outcome = { requeueAfterMs: 0 };
  } else if (receiverSpec(receiver).suspend) {
    outcome = {};
  } else {
    outcome = reconcileWebhookPath(store, receiver, conditions, draft);
  }

  summarizeStatus(receiver, conditions, draft);
  writeStatus(store, receiver, draft);
  if (outcome.error !== undefined) {
    recorder.event(receiver, 'Warning', 'Failed', outcome.error);
  } else if (conditions.isTrue(READY)) {
    recorder.event(
      receiver,
      'Normal',
      'Succeeded',
      `Reconciliation finished, next run in ${formatGoDuration(
        intervalMs(receiver),
      )}`,
    );
  }
  return outcome;
}

export interface ReceiverReconcilerOptions {
  store: ClusterStore;
  recorder: EventRecorder;
  /** First delay after a failed reconciliation; doubles per consecutive failure. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

interface ObservedReceiver {
  generation?: number;
  requestedAt?: string;
  deleting: boolean;
}

function observe(receiver: KubeObject): ObservedReceiver {
  return {
    generation: receiver.metadata.generation,
    requestedAt: receiver.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION],
    deleting: Boolean(receiver.metadata.deletionTimestamp),
  };
}

function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/**
 * Runs the Receiver reconciler: reacts to spec changes and reconcile requests (the
 * GenerationChanged and ReconcileRequested predicates), to changes of referenced Secrets,
 * and requeues every `spec.interval`.
 */
export function startReceiverReconciler(options: ReceiverReconcilerOptions): {
  stop(): void;
} {
  const { store, recorder } = options;
  const backoff = new FailureBackoff(
    options.retryBaseDelayMs ?? 100,
    options.retryMaxDelayMs ?? 60_000,
  );
  const observed = new Map<string, ObservedReceiver>();

  const queue: WorkQueue = new WorkQueue(key => {
    const slash = key.indexOf('/');
    let outcome: ReconcileOutcome | undefined;
    try {
      outcome = reconcileReceiver(
        store,
        recorder,
        key.slice(0, slash),
        key.slice(slash + 1),
      );
    } catch (error) {
      if (error instanceof StoreError && error.code === 404) {
        outcome = undefined;
      } else {
        outcome = { error: String(error) };
      }
    }
    if (!outcome) {
      backoff.reset(key);
    } else if (outcome.error !== undefined) {
      queue.add(key, backoff.next(key));
    } else {
      backoff.reset(key);
      if (outcome.requeueAfterMs !== undefined) {
        queue.add(key, outcome.requeueAfterMs);
      }
    }
  });

  const onReceiverEvent = ({ type, object }: WatchEvent) => {
    const key = objectKey(object);
    if (type === 'BOOKMARK') {
      return;
    }
    if (type === 'DELETED') {
      observed.delete(key);
      queue.forget(key);
      backoff.reset(key);
      return;
    }
    const previous = observed.get(key);
    const next = observe(object);
    observed.set(key, next);
    if (
      !previous ||
      previous.generation !== next.generation ||
      previous.requestedAt !== next.requestedAt ||
      (!previous.deleting && next.deleting)
    ) {
      queue.add(key);
    }
  };

  const onSecretEvent = ({ type, object }: WatchEvent) => {
    if (type === 'BOOKMARK') {
      return;
    }
    const { namespace, name } = object.metadata;
    for (const receiver of store.list(RECEIVER, { namespace }).items) {
      if (receiverSpec(receiver).secretRef?.name === name) {
        queue.add(objectKey(receiver));
      }
    }
  };

  const existing = store.list(RECEIVER);
  for (const receiver of existing.items) {
    onReceiverEvent({ type: 'ADDED', object: receiver });
  }
  const unwatchReceivers = store.watch(
    RECEIVER,
    { resourceVersion: existing.resourceVersion },
    onReceiverEvent,
  );
  const unwatchSecrets = store.watch(
    SECRET,
    { resourceVersion: store.currentResourceVersion() },
    onSecretEvent,
  );

  return {
    stop() {
      unwatchReceivers();
      unwatchSecrets();
      queue.stop();
    },
  };
}
