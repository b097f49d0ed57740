import type { IAlertSpec } from '@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3';
import type { ClusterStore, KubeObject } from '../../kube/types';
import { ALERT, EVENT_API_GROUP } from './apiRefs';
import type { EventRecorder } from './eventRecorder';
import {
  involvedObjectGroup,
  involvedObjectString,
  type FluxEvent,
} from './fluxEvent';

export type AlertSpec = IAlertSpec;
type EventSource = AlertSpec['eventSources'][number];

export function alertSpec(alert: KubeObject): AlertSpec {
  return (alert.spec ?? {}) as AlertSpec;
}

function eventMatchesSource(
  store: ClusterStore,
  recorder: EventRecorder,
  event: FluxEvent,
  alert: KubeObject,
  source: EventSource,
): boolean {
  const involved = event.involvedObject;
  const namespace = source.namespace || alert.metadata.namespace;
  if (involved.namespace !== namespace || involved.kind !== source.kind) {
    return false;
  }
  const severity = alertSpec(alert).eventSeverity ?? 'info';
  if (event.severity !== severity && severity !== 'info') {
    return false;
  }
  if (source.name !== '*' && source.name !== involved.name) {
    return false;
  }
  if (!source.matchLabels) {
    return true;
  }
  const object = involved.apiVersion
    ? store.get(
        { apiVersion: involved.apiVersion, kind: involved.kind },
        involved.namespace,
        involved.name,
      )
    : undefined;
  if (!object) {
    recorder.event(
      alert,
      'Warning',
      'SourceFetchFailed',
      `error getting source object ${involvedObjectString(involved)}`,
    );
    return false;
  }
  const labels = object.metadata.labels ?? {};
  return Object.entries(source.matchLabels).every(
    ([key, value]) => labels[key] === value,
  );
}

/** Whether any of the alert's regular expressions matches the message; bad ones are reported. */
function anyMatches(
  recorder: EventRecorder,
  alert: KubeObject,
  expressions: string[],
  message: string,
  listName: 'inclusion' | 'exclusion',
): boolean {
  return expressions.some(expression => {
    try {
      return new RegExp(expression).test(message);
    } catch {
      recorder.event(
        alert,
        'Warning',
        'InvalidConfig',
        `failed to compile ${listName} regex: ${expression}`,
      );
      return false;
    }
  });
}

/** The event server's filterAlertsForEvent over every Alert in the cluster. */
export function alertsForEvent(
  store: ClusterStore,
  recorder: EventRecorder,
  event: FluxEvent,
): KubeObject[] {
  return store.list(ALERT).items.filter(alert => {
    const spec = alertSpec(alert);
    if (spec.suspend) {
      return false;
    }
    if (
      !(spec.eventSources ?? []).some(s =>
        eventMatchesSource(store, recorder, event, alert, s),
      )
    ) {
      return false;
    }
    const inclusions = spec.inclusionList ?? [];
    if (
      inclusions.length > 0 &&
      !anyMatches(recorder, alert, inclusions, event.message, 'inclusion')
    ) {
      return false;
    }
    return !anyMatches(
      recorder,
      alert,
      spec.exclusionList ?? [],
      event.message,
      'exclusion',
    );
  });
}

/**
 * The metadata sent to the Provider (Flux RFC 0008), lowest to highest precedence: event
 * metadata under the event API group, the Alert's eventMetadata, its summary, and event
 * metadata under the involved object's API group; prefixes stripped.
 */
export function combineEventMetadata(
  recorder: EventRecorder,
  event: FluxEvent,
  alert: KubeObject,
): Record<string, string> {
  const spec = alertSpec(alert);
  const metadata: Record<string, string> = {};
  const sources = new Map<string, number>();
  const put = (key: string, value: string) => {
    metadata[key] = value;
    sources.set(key, (sources.get(key) ?? 0) + 1);
  };
  const putPrefixed = (group: string) => {
    for (const [key, value] of Object.entries(event.metadata)) {
      if (key.startsWith(`${group}/`)) {
        put(key.slice(group.length + 1), value);
      }
    }
  };
  putPrefixed(EVENT_API_GROUP);
  for (const [key, value] of Object.entries(spec.eventMetadata ?? {})) {
    put(key, value);
  }
  if (spec.summary) {
    put('summary', spec.summary);
  }
  putPrefixed(involvedObjectGroup(event));
  if ([...sources.values()].some(count => count > 1)) {
    recorder.event(
      alert,
      'Warning',
      'MetadataAppendFailed',
      'metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)',
    );
  }
  return metadata;
}
