export { DeliveryNotifier, notifyBodySchema } from './DeliveryNotifier';
export type { NotifyInput } from './DeliveryNotifier';
export { createNotifyRoutes } from './router';
