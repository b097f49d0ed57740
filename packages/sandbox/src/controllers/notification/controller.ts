import type { ClusterStore } from '../../kube/types';
import {
  startEventDispatcher,
  type DeliveryRecord,
  type DispatchRetryOptions,
} from './dispatcher';
import { createEventRecorder } from './eventRecorder';
import type { FetchLike } from './notifiers';
import {
  createReceiverHandler,
  type ReceiverFaults,
  type ReceiverHandler,
  type ReceiverRequestRecord,
} from './receiverHandler';
import { startReceiverReconciler } from './receiverReconciler';

export interface NotificationControllerOptions {
  store: ClusterStore;
  /** Used for Provider deliveries; without it only loopback addresses are reachable. */
  fetchImpl?: FetchLike;
  /** The controller's `--no-cross-namespace-refs` flag. */
  noCrossNamespaceRefs?: boolean;
  /** Window in which identical events are dropped (default 5 min, as the event server; 0 disables). */
  eventRateLimitIntervalMs?: number;
  /** Retries of failed Provider deliveries. */
  dispatchRetry?: DispatchRetryOptions;
  /** Backoff of failed Receiver reconciliations (default 100 ms doubling up to 60 s). */
  reconcileRetryBaseDelayMs?: number;
  reconcileRetryMaxDelayMs?: number;
}

export interface NotificationController {
  /** The webhook receiver, to serve as Service `webhook-receiver` in `flux-system` (or via startReceiverServer). */
  handler: ReceiverHandler;
  /** Requests the receiver handled, oldest first. */
  requests: ReceiverRequestRecord[];
  /** Fault injection on the receiver endpoint. */
  faults: ReceiverFaults;
  /** Provider deliveries (commit statuses, forwarded events), oldest first. */
  deliveries: DeliveryRecord[];
  stop(): Promise<void>;
}

/**
 * The Flux notification-controller of one simulated cluster: the Receiver reconciler, the
 * webhook receiver and the Alert/Provider event dispatcher, all against the cluster's store.
 */
export function startNotificationController(
  options: NotificationControllerOptions,
): NotificationController {
  const { store } = options;
  const recorder = createEventRecorder(store);
  const handler = createReceiverHandler({
    store,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs,
  });
  const reconciler = startReceiverReconciler({
    store,
    recorder,
    retryBaseDelayMs: options.reconcileRetryBaseDelayMs,
    retryMaxDelayMs: options.reconcileRetryMaxDelayMs,
  });
  const dispatcher = startEventDispatcher({
    store,
    recorder,
    fetchImpl: options.fetchImpl,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs,
    rateLimitIntervalMs: options.eventRateLimitIntervalMs,
    retry: options.dispatchRetry,
  });

  return {
    handler,
    requests: handler.requests,
    faults: handler.faults,
    deliveries: dispatcher.deliveries,
    async stop() {
      reconciler.stop();
      await dispatcher.stop();
    },
  };
}
