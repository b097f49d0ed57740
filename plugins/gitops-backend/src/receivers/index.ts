export {
  ReceiverManager,
  gitHostNames,
  readReceiverSettings,
  receiverName,
} from './ReceiverManager';
export { createReceiverRoutes } from './router';
export { PushRelay, PUSH_TOPICS, readRelaySettings } from './PushRelay';
export { ReceiverTrigger, receiverBaseUrl } from './ReceiverTrigger';
