import { StoreErrorWithCauses, type StatusCause } from './errors';
import { StoreError } from './types';

/** A `meta.k8s.io/v1` Status, the body of every error the API server answers. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code?: number;
}

const REASONS: Record<number, { reason: string; message: string }> = {
  400: {
    reason: 'BadRequest',
    message: 'the server rejected our request for an unknown reason',
  },
  401: { reason: 'Unauthorized', message: 'Unauthorized' },
  403: { reason: 'Forbidden', message: 'forbidden' },
  404: {
    reason: 'NotFound',
    message: 'the server could not find the requested resource',
  },
  405: {
    reason: 'MethodNotAllowed',
    message: 'the server does not allow this method on the requested resource',
  },
  409: { reason: 'Conflict', message: 'the server reported a conflict' },
  410: { reason: 'Gone', message: 'the server reported the resource is gone' },
  413: { reason: 'RequestEntityTooLarge', message: 'the request is too large' },
  415: {
    reason: 'UnsupportedMediaType',
    message: 'the server does not support the media type',
  },
  422: {
    reason: 'Invalid',
    message: 'the server rejected our request due to an error in our request',
  },
  429: {
    reason: 'TooManyRequests',
    message:
      'the server has received too many requests and has asked us to try again later',
  },
  500: {
    reason: 'InternalError',
    message: 'Internal error occurred: injected fault',
  },
  502: {
    reason: 'InternalError',
    message: 'Internal error occurred: bad gateway',
  },
  503: {
    reason: 'ServiceUnavailable',
    message: 'the server is currently unable to handle the request',
  },
  504: {
    reason: 'Timeout',
    message: 'the server was unable to return a response in the time allotted',
  },
};

export function failureStatus(
  code: number,
  message?: string,
  reason?: string,
  details?: KubeStatus['details'],
): KubeStatus {
  const known = REASONS[code] ?? {
    reason: 'Unknown',
    message: 'an error on the server has prevented the request from succeeding',
  };
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: message ?? known.message,
    reason: reason ?? known.reason,
    ...(details && Object.keys(details).length > 0 ? { details } : {}),
    code,
  };
}

/** The Status for a StoreError or any unexpected failure (500). */
export function statusFromError(error: unknown): KubeStatus {
  if (error instanceof StoreError) {
    const details: KubeStatus['details'] = { ...error.details };
    if (error instanceof StoreErrorWithCauses && error.causes.length > 0) {
      details.causes = error.causes;
    }
    return failureStatus(error.code, error.message, error.reason, details);
  }
  return failureStatus(
    500,
    `Internal error occurred: ${(error as Error)?.message ?? String(error)}`,
  );
}

export function successStatus(details: KubeStatus['details']): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details,
  };
}
