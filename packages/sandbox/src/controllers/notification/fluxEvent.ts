import type { KubeObject } from '../../kube/types';
import { groupOf } from './apiRefs';

export interface InvolvedObject {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

/** The event as Flux controllers post it to the notification-controller (event/v1). */
export interface FluxEvent {
  involvedObject: InvolvedObject;
  severity: 'info' | 'error';
  timestamp: string;
  message: string;
  reason: string;
  /** Keys as the emitter wrote them: `<api group>/<key>`. */
  metadata: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

export function involvedObjectString(object: InvolvedObject): string {
  return `${object.kind}/${object.namespace}/${object.name}`;
}

/**
 * A core v1 Event written by a Flux controller's recorder, read back as the Flux event it
 * also posts: Warning is `error`, Normal is `info`, annotations carry the metadata.
 */
export function fluxEventFromKubeEvent(
  event: KubeObject,
): FluxEvent | undefined {
  const involved = event.involvedObject as Partial<InvolvedObject> | undefined;
  if (!involved?.kind || !involved.name) {
    return undefined;
  }
  const source = event.source as { component?: string } | undefined;
  const timestamp =
    (event.lastTimestamp as string | undefined) ??
    (event.eventTime as string | undefined) ??
    (event.firstTimestamp as string | undefined) ??
    event.metadata.creationTimestamp ??
    new Date().toISOString();
  return {
    involvedObject: {
      kind: involved.kind,
      namespace: involved.namespace ?? event.metadata.namespace ?? '',
      name: involved.name,
      uid: involved.uid,
      apiVersion: involved.apiVersion,
      resourceVersion: involved.resourceVersion,
    },
    severity: event.type === 'Warning' ? 'error' : 'info',
    timestamp,
    message: (event.message as string | undefined) ?? '',
    reason: (event.reason as string | undefined) ?? '',
    metadata: { ...(event.metadata.annotations ?? {}) },
    reportingController:
      (event.reportingComponent as string | undefined) ||
      source?.component ||
      '',
    reportingInstance:
      (event.reportingInstance as string | undefined) || undefined,
  };
}

export function involvedObjectGroup(event: FluxEvent): string {
  return groupOf(event.involvedObject.apiVersion ?? '');
}
