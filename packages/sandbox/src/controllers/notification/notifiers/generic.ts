import { createHmac } from 'node:crypto';
import type { FluxEvent } from '../fluxEvent';
import {
  isRetryableStatus,
  isSuccess,
  NotifierError,
  sendRequest,
} from './http';
import type { Notifier } from './types';

/** The event as Go marshals eventv1.Event (field order and omitempty included). */
function eventPayload(event: FluxEvent): string {
  const { kind, namespace, name, uid, apiVersion, resourceVersion } =
    event.involvedObject;
  return JSON.stringify({
    involvedObject: { kind, namespace, name, uid, apiVersion, resourceVersion },
    severity: event.severity,
    timestamp: event.timestamp,
    message: event.message,
    reason: event.reason,
    metadata:
      Object.keys(event.metadata).length > 0 ? event.metadata : undefined,
    reportingController: event.reportingController,
    reportingInstance: event.reportingInstance,
  });
}

/**
 * Provider types `generic` and `generic-hmac` (the Forwarder): POSTs the event JSON to the
 * address; generic-hmac signs the body with the token in `X-Signature: sha256=<hex>`.
 */
export function createForwarder(options: {
  address: string;
  headers: Record<string, string>;
  hmacKey?: string;
}): Notifier {
  if (!URL.canParse(options.address)) {
    throw new Error(`invalid hook URL ${options.address}`);
  }
  if (options.hmacKey === '') {
    throw new Error('HMAC key cannot be empty');
  }
  return {
    async post(event: FluxEvent, context) {
      const body = eventPayload(event);
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'gotk-component': event.reportingController,
        ...options.headers,
      };
      if (options.hmacKey !== undefined) {
        headers['X-Signature'] = `sha256=${createHmac('sha256', options.hmacKey)
          .update(body)
          .digest('hex')}`;
      }
      const result = await sendRequest(
        context,
        'POST',
        options.address,
        headers,
        body,
      );
      if (!isSuccess(result)) {
        throw new NotifierError(
          `postMessage failed: request failed with status code ${result.status}, ${result.text}`,
          isRetryableStatus(result.status),
        );
      }
      return {
        outcome: 'delivered',
        detail: `event posted to ${options.address}`,
      };
    },
  };
}
