import { parse as parseYaml } from 'yaml';
import type { IProviderSpec } from '@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3';
import type { ClusterStore, KubeObject, WatchEvent } from '../../kube/types';
import { EVENT, EVENT_API_GROUP, PROVIDER } from './apiRefs';
import { alertsForEvent, alertSpec, combineEventMetadata } from './alerts';
import type { EventRecorder } from './eventRecorder';
import {
  fluxEventFromKubeEvent,
  involvedObjectGroup,
  involvedObjectString,
  type FluxEvent,
} from './fluxEvent';
import { durationOr } from '../duration';
import { defaultCommitStatusName } from './notifiers/commitStatus';
import {
  createNotifier,
  isCommitStatusProvider,
  NotifierError,
  type FetchLike,
  type Notifier,
  type NotifyResult,
  type PostedCommitStatus,
} from './notifiers';
import { getSecret, secretValue } from './secrets';

type ProviderSpec = IProviderSpec;

export interface DeliveryRecord {
  time: string;
  /** `namespace/name` of the Alert and of its Provider. */
  alert: string;
  provider: string;
  providerType?: string;
  /** `Kind/namespace/name` of the event's involved object. */
  involvedObject: string;
  reason: string;
  severity: 'info' | 'error';
  outcome: 'delivered' | 'skipped' | 'failed';
  detail: string;
  attempts: number;
  commitStatus?: PostedCommitStatus;
}

export interface DispatchRetryOptions {
  /** Tries per notification, the first included (default 4). */
  attempts?: number;
  /** Delay before the first retry, doubled each time (default 100 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface EventDispatcherOptions {
  store: ClusterStore;
  recorder: EventRecorder;
  /**
   * Used for every Provider request. Without it the global fetch is used and only loopback
   * addresses are allowed, since nothing in the sandbox may leave the machine.
   */
  fetchImpl?: FetchLike;
  noCrossNamespaceRefs?: boolean;
  /** Identical events within this window are dropped, like the event server's rate limiter (default 5 min, 0 disables). */
  rateLimitIntervalMs?: number;
  retry?: DispatchRetryOptions;
}

export interface EventDispatcher {
  readonly deliveries: DeliveryRecord[];
  stop(): Promise<void>;
}

const DEFAULT_PROVIDER_TIMEOUT_MS = 15_000;
const MAX_KEPT_RECORDS = 1000;
const MAX_TRACKED_EVENTS = 10_000;

function loopbackOnlyFetch(): FetchLike {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (
      !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) &&
      !/^127\./.test(url.hostname)
    ) {
      return Promise.reject(
        new Error(
          `the sandbox only delivers to loopback addresses, not ${url.host}`,
        ),
      );
    }
    return fetch(input, init);
  };
}

function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

/** The event server's rate-limit key: involved object, message, and unprefixed revision/token. */
function rateLimitKey(event: FluxEvent): string {
  const { name, namespace, kind } = event.involvedObject;
  const parts = [
    'event',
    `name=${name}`,
    `namespace=${namespace}`,
    `kind=${kind}`,
    `message=${event.message}`,
  ];
  if (event.metadata.revision !== undefined) {
    parts.push(`revision=${event.metadata.revision}`);
  }
  if (event.metadata.token !== undefined) {
    parts.push(`token=${event.metadata.token}`);
  }
  return parts.join('/');
}

function maskToken(message: string, token: string): string {
  return token ? message.split(token).join('*****') : message;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

type PreparedNotification =
  | {
      kind: 'send';
      notifier: Notifier;
      event: FluxEvent;
      token: string;
      timeoutMs: number;
      provider: KubeObject;
    }
  | { kind: 'skip'; detail: string; provider?: KubeObject };

/**
 * Watches core v1 Events and dispatches them to the Providers of matching Alerts, the way
 * Flux controllers' events reach the notification-controller's event server.
 */
export function startEventDispatcher(
  options: EventDispatcherOptions,
): EventDispatcher {
  const { store, recorder, noCrossNamespaceRefs = false } = options;
  const fetchImpl = options.fetchImpl ?? loopbackOnlyFetch();
  const rateLimitIntervalMs = options.rateLimitIntervalMs ?? 5 * 60_000;
  const attempts = Math.max(1, options.retry?.attempts ?? 4);
  const baseDelayMs = options.retry?.baseDelayMs ?? 100;
  const maxDelayMs = options.retry?.maxDelayMs ?? 1000;

  const deliveries: DeliveryRecord[] = [];
  const seenCounts = new Map<string, number>();
  const lastDispatched = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  const stopping = new AbortController();

  function record(entry: Omit<DeliveryRecord, 'time'>) {
    deliveries.push({ time: new Date().toISOString(), ...entry });
    if (deliveries.length > MAX_KEPT_RECORDS) {
      deliveries.shift();
    }
  }

  /** getNotificationParams: the Provider, its Secret, the gating rules and the notifier. */
  function prepare(event: FluxEvent, alert: KubeObject): PreparedNotification {
    const alertNamespace = alert.metadata.namespace ?? '';
    if (
      noCrossNamespaceRefs &&
      event.involvedObject.namespace !== alertNamespace
    ) {
      throw new Error(
        `discarding event, access denied to cross-namespace sources: alert '${objectKey(
          alert,
        )}' can't process event from '${involvedObjectString(
          event.involvedObject,
        )}', cross-namespace references have been blocked`,
      );
    }
    const providerName = alertSpec(alert).providerRef?.name ?? '';
    const provider = store.get(PROVIDER, alertNamespace, providerName);
    if (!provider) {
      throw new Error(
        `failed to read provider: providers.notification.toolkit.fluxcd.io "${providerName}" not found`,
      );
    }
    const spec = (provider.spec ?? {}) as ProviderSpec;
    if (spec.suspend) {
      return { kind: 'skip', detail: 'provider is suspended', provider };
    }
    const group = involvedObjectGroup(event);
    const commitStatusUpdate =
      event.metadata[`${group}/commit_status`] === 'update';
    const commitStatusProvider = isCommitStatusProvider(spec.type);
    if (!commitStatusProvider && commitStatusUpdate) {
      return {
        kind: 'skip',
        detail: 'commit status update events only go to Git providers',
        provider,
      };
    }
    if (
      commitStatusProvider &&
      !commitStatusUpdate &&
      !event.metadata[`${EVENT_API_GROUP}/commit`]
    ) {
      return {
        kind: 'skip',
        detail:
          'event dropped for commit status providers due to missing commit metadata key',
        provider,
      };
    }

    const notification: FluxEvent = {
      ...event,
      metadata: combineEventMetadata(recorder, event, alert),
    };
    let commitStatus = '';
    if (commitStatusProvider) {
      if (spec.commitStatusExpr) {
        throw new Error(
          'failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: CEL is not supported by the sandbox',
        );
      }
      commitStatus = defaultCommitStatusName(
        provider.metadata.uid ?? '',
        notification,
      );
    }

    let address = spec.address ?? '';
    let token = '';
    let headers: Record<string, string> = {};
    try {
      if (spec.secretRef) {
        const lookup = getSecret(store, alertNamespace, spec.secretRef.name);
        if (!lookup.found) {
          throw new Error(
            `failed to get secret '${alertNamespace}/${spec.secretRef.name}': ${lookup.error}`,
          );
        }
        address = secretValue(lookup.secret, 'address')?.trim() ?? address;
        token = secretValue(lookup.secret, 'token')?.trim() ?? '';
        const headerYaml = secretValue(lookup.secret, 'headers');
        if (headerYaml !== undefined) {
          try {
            headers = (parseYaml(headerYaml) ?? {}) as Record<string, string>;
          } catch (error) {
            throw new Error(
              `failed to read headers from secret: ${(error as Error).message}`,
            );
          }
        }
      }
      const notifier = createNotifier({
        type: spec.type,
        address,
        token,
        headers,
        commitStatus,
      });
      const timeoutMs = durationOr(spec.timeout, DEFAULT_PROVIDER_TIMEOUT_MS);
      return {
        kind: 'send',
        notifier,
        event: notification,
        token,
        timeoutMs,
        provider,
      };
    } catch (error) {
      throw new Error(
        `failed to initialize notifier for provider '${providerName}': ${
          (error as Error).message
        }`,
      );
    }
  }

  /** Posts with bounded exponential backoff on retryable failures, within the Provider timeout. */
  async function send(
    prepared: Extract<PreparedNotification, { kind: 'send' }>,
    base: Omit<DeliveryRecord, 'time' | 'outcome' | 'detail' | 'attempts'>,
    alert: KubeObject,
  ) {
    const signal = AbortSignal.any([
      stopping.signal,
      AbortSignal.timeout(prepared.timeoutMs),
    ]);
    let attempt = 0;
    let lastError: NotifierError | Error | undefined;
    while (attempt < attempts && !signal.aborted) {
      attempt += 1;
      try {
        const result: NotifyResult = await prepared.notifier.post(
          prepared.event,
          { fetch: fetchImpl, signal },
        );
        record({
          ...base,
          outcome: result.outcome,
          detail: result.detail,
          attempts: attempt,
          commitStatus: result.commitStatus,
        });
        return;
      } catch (error) {
        lastError = error as Error;
        const retryable =
          error instanceof NotifierError ? error.retryable : false;
        if (!retryable || attempt >= attempts) {
          break;
        }
        await sleep(
          Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs),
          signal,
        );
      }
    }
    if (stopping.signal.aborted) {
      return;
    }
    const message = maskToken(
      lastError?.message ?? 'context deadline exceeded',
      prepared.token,
    );
    record({ ...base, outcome: 'failed', detail: message, attempts: attempt });
    recorder.event(
      alert,
      'Warning',
      'NotificationDispatchFailed',
      `failed to send notification for ${involvedObjectString(
        prepared.event.involvedObject,
      )}: ${message}`,
    );
  }

  function dispatch(event: FluxEvent) {
    for (const alert of alertsForEvent(store, recorder, event)) {
      const base = {
        alert: objectKey(alert),
        provider: `${alert.metadata.namespace}/${
          alertSpec(alert).providerRef?.name ?? ''
        }`,
        involvedObject: involvedObjectString(event.involvedObject),
        reason: event.reason,
        severity: event.severity,
      };
      let prepared: PreparedNotification;
      try {
        prepared = prepare(event, alert);
      } catch (error) {
        const detail = (error as Error).message;
        record({ ...base, outcome: 'failed', detail, attempts: 0 });
        recorder.event(
          alert,
          'Warning',
          'NotificationDispatchFailed',
          `failed to dispatch notification for ${base.involvedObject}: ${detail}`,
        );
        continue;
      }
      const providerType = ((prepared.provider?.spec ?? {}) as ProviderSpec)
        .type;
      if (prepared.kind === 'skip') {
        record({
          ...base,
          providerType,
          outcome: 'skipped',
          detail: prepared.detail,
          attempts: 0,
        });
        continue;
      }
      const task = send(prepared, { ...base, providerType }, alert).finally(
        () => pending.delete(task),
      );
      pending.add(task);
    }
  }

  function onEvent({ type, object }: WatchEvent) {
    const uid = object.metadata.uid ?? objectKey(object);
    if (type === 'DELETED') {
      seenCounts.delete(uid);
      return;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') {
      return;
    }
    // An aggregated Event (count bumped) is the emitter recording the same event again.
    const count = typeof object.count === 'number' ? object.count : 1;
    const seen = seenCounts.get(uid);
    if (seen !== undefined && count <= seen) {
      return;
    }
    seenCounts.set(uid, count);
    if (seenCounts.size > MAX_TRACKED_EVENTS) {
      seenCounts.delete(seenCounts.keys().next().value as string);
    }

    const event = fluxEventFromKubeEvent(object);
    if (!event) {
      return;
    }
    delete event.metadata[`${involvedObjectGroup(event)}/token`];
    if (rateLimitIntervalMs > 0) {
      const key = rateLimitKey(event);
      const now = Date.now();
      const last = lastDispatched.get(key);
      if (last !== undefined && now - last < rateLimitIntervalMs) {
        return;
      }
      // Re-inserted so the map stays ordered by dispatch time and stale keys sit in front.
      lastDispatched.delete(key);
      lastDispatched.set(key, now);
      for (const [staleKey, at] of lastDispatched) {
        if (now - at < rateLimitIntervalMs) break;
        lastDispatched.delete(staleKey);
      }
    }
    dispatch(event);
  }

  const unwatch = store.watch(
    EVENT,
    { resourceVersion: store.currentResourceVersion() },
    watchEvent => {
      try {
        onEvent(watchEvent);
      } catch {
        // A broken Alert or Provider must not stop the watch; the real server answers 500 and moves on.
      }
    },
  );

  return {
    deliveries,
    async stop() {
      unwatch();
      stopping.abort();
      await Promise.allSettled([...pending]);
    },
  };
}
