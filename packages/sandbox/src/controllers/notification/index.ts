export {
  startNotificationController,
  type NotificationController,
  type NotificationControllerOptions,
} from './controller';
export {
  createReceiverHandler,
  MAX_REQUEST_SIZE_BYTES,
  type ReceiverFaults,
  type ReceiverHandler,
  type ReceiverHandlerOptions,
  type ReceiverRequestRecord,
} from './receiverHandler';
export {
  startReceiverServer,
  type ReceiverServer,
  type ReceiverServerOptions,
} from './receiverServer';
export { receiverWebhookPath, WEBHOOK_PATH_PREFIX } from './receiver';
export {
  reconcileReceiver,
  startReceiverReconciler,
} from './receiverReconciler';
export {
  startEventDispatcher,
  type DeliveryRecord,
  type DispatchRetryOptions,
  type EventDispatcher,
  type EventDispatcherOptions,
} from './dispatcher';
export { createEventRecorder, type EventRecorder } from './eventRecorder';
export type { PostedCommitStatus } from './notifiers';
