import type { TypeRef } from '../../kube/types';

export const RECEIVER: TypeRef = {
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  kind: 'Receiver',
};
export const ALERT: TypeRef = {
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  kind: 'Alert',
};
export const PROVIDER: TypeRef = {
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  kind: 'Provider',
};
export const SECRET: TypeRef = { apiVersion: 'v1', kind: 'Secret' };
export const EVENT: TypeRef = { apiVersion: 'v1', kind: 'Event' };

export const CONTROLLER_NAME = 'notification-controller';
/** The finalizer every Flux controller puts on the objects it reconciles. */
export const NOTIFICATION_FINALIZER = 'finalizers.fluxcd.io';
export const RECONCILE_REQUEST_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';
/** Metadata keys of Flux events that are not about the involved object's own API group. */
export const EVENT_API_GROUP = 'event.toolkit.fluxcd.io';

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}
