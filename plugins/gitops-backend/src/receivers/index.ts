export {
  ReceiverManager,
  gitHostNames,
  readReceiverSettings,
  receiverName,
} from './ReceiverManager';
export { createReceiverRoutes } from './router';
