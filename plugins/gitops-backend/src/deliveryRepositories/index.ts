export {
  DeliveryRepositoryCatalogSync,
  deliveryRepositoriesFromAnnotations,
  readSyncFrequency,
} from './DeliveryRepositoryCatalogSync';
export { createDeliveryRepositoryRoutes } from './router';
export { deliveryEntityOf } from './entityOfObject';
