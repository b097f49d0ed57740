import type { ClusterStore, KubeObject } from '../../kube/types';
import { recordEvent } from '../events';
import { CONTROLLER_NAME } from './apiRefs';

export type EventType = 'Normal' | 'Warning';

/** Kubernetes Events about notification objects, recorded as the notification-controller. */
export interface EventRecorder {
  event(
    object: KubeObject,
    type: EventType,
    reason: string,
    message: string,
  ): void;
}

export function createEventRecorder(store: ClusterStore): EventRecorder {
  return {
    event(object, type, reason, message) {
      try {
        recordEvent(store, object, {
          type,
          reason,
          message,
          reportingController: CONTROLLER_NAME,
        });
      } catch {
        // Like client-go's recorder, a failure to record never fails the caller.
      }
    },
  };
}
