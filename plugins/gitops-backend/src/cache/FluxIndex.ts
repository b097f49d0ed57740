import {
  ANNOTATION_KUBERNETES_ID,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { CachedEvent, CachedFluxObject } from './types';

type SourceRef = { kind?: unknown; name?: unknown; namespace?: unknown };

/**
 * `kind/namespace/name`. Built by `join`, which makes one flat string: a template literal
 * keeps a chain of pieces (~100 bytes more per key, and there are a million).
 */
const keyOf = (ref: FluxObjectRef) =>
  [ref.kind, ref.namespace, ref.name].join('/');

function refKey(ref: unknown, defaultNamespace: string): string | undefined {
  const r = (ref ?? {}) as SourceRef;
  if (typeof r.kind !== 'string' || typeof r.name !== 'string')
    return undefined;
  const namespace =
    typeof r.namespace === 'string' && r.namespace
      ? r.namespace
      : defaultNamespace;
  return keyOf({ kind: r.kind as FluxKind, namespace, name: r.name });
}

/** The normalized repository URL of a source, when it has a parsable one. */
export function normalizedUrl(object: CachedFluxObject): string | undefined {
  const url = object.spec.url;
  if (typeof url !== 'string') return undefined;
  try {
    return parseRepositoryUrl(url).normalized;
  } catch {
    // Bucket endpoints, Helm repositories with odd URLs: not delivery repositories.
    return undefined;
  }
}

/** The sources a Kustomization or HelmRelease takes its artifact from (cross-namespace). */
export function sourceKeysOf(object: CachedFluxObject): string[] {
  const { namespace } = object.metadata;
  if (object.kind === 'Kustomization') {
    return [refKey(object.spec.sourceRef, namespace)].filter(isString);
  }
  if (object.kind === 'HelmRelease') {
    const chart = object.spec.chart as
      | { spec?: { sourceRef?: unknown } }
      | undefined;
    return [
      refKey(object.spec.chartRef, namespace),
      refKey(chart?.spec?.sourceRef, namespace),
    ].filter(isString);
  }
  return [];
}

function isString(value: string | undefined): value is string {
  return typeof value === 'string';
}

/** The index terms an object is filed under. */
interface Terms {
  url?: string;
  sources: string[];
  kubernetesId?: string;
}

// Computed again from the kept object to unfile it, rather than kept per object: a
// million objects are the goal, and cached objects are never changed in place.
function termsOf(object: CachedFluxObject): Terms {
  return {
    url: normalizedUrl(object),
    sources: sourceKeysOf(object),
    kubernetesId: object.metadata.labels?.[ANNOTATION_KUBERNETES_ID],
  };
}

/**
 * Keys filed under a term: most terms (a source's URL, a kubernetes-id) name one object,
 * kept as the key itself; a Set only once there are more (a Set costs ~200 bytes).
 */
type Filed = string | Set<string>;

function add(map: Map<string, Filed>, term: string, key: string) {
  const keys = map.get(term);
  if (keys === undefined || keys === key) map.set(term, key);
  else if (typeof keys === 'string') map.set(term, new Set([keys, key]));
  else keys.add(key);
}

function remove(map: Map<string, Filed>, term: string, key: string) {
  const keys = map.get(term);
  if (keys === key) map.delete(term);
  else if (typeof keys !== 'string' && keys) {
    keys.delete(key);
    if (keys.size === 1) map.set(term, keys.values().next().value!);
  }
}

/** One cluster's Flux objects and events, indexed for the queries status requests make. */
export class FluxIndex {
  private readonly objects = new Map<string, CachedFluxObject>();
  private readonly byUrl = new Map<string, Filed>();
  private readonly bySource = new Map<string, Filed>();
  private readonly byKubernetesId = new Map<string, Filed>();
  private readonly eventsByObject = new Map<string, Map<string, CachedEvent>>();

  constructor(private readonly eventsPerObject: number) {}

  /** How many objects are held. */
  get size(): number {
    return this.objects.size;
  }

  upsert(object: CachedFluxObject): void {
    const key = keyOf({ kind: object.kind, ...object.metadata });
    this.unfile(key);
    const terms = termsOf(object);
    if (terms.url) add(this.byUrl, terms.url, key);
    for (const source of terms.sources) add(this.bySource, source, key);
    if (terms.kubernetesId) add(this.byKubernetesId, terms.kubernetesId, key);
    this.objects.set(key, object);
  }

  delete(ref: FluxObjectRef): void {
    const key = keyOf(ref);
    this.unfile(key);
    this.objects.delete(key);
  }

  get(ref: FluxObjectRef): CachedFluxObject | undefined {
    return this.objects.get(keyOf(ref));
  }

  list(kind?: FluxKind): CachedFluxObject[] {
    const all = [...this.objects.values()];
    return kind ? all.filter(o => o.kind === kind) : all;
  }

  sourcesByUrl(normalized: string): CachedFluxObject[] {
    return this.resolve(this.byUrl.get(normalized));
  }

  consumersOfSource(source: FluxObjectRef): CachedFluxObject[] {
    return this.resolve(this.bySource.get(keyOf(source)));
  }

  byKubernetesIdLabel(id: string): CachedFluxObject[] {
    return this.resolve(this.byKubernetesId.get(id));
  }

  upsertEvent(event: CachedEvent): void {
    const key = keyOf(event.involvedObject);
    let events = this.eventsByObject.get(key);
    if (!events) this.eventsByObject.set(key, (events = new Map()));
    events.set(event.metadata.name, event);
    if (events.size > this.eventsPerObject) {
      const oldest = newestFirst([...events.values()]).slice(
        this.eventsPerObject,
      );
      for (const old of oldest) events.delete(old.metadata.name);
    }
  }

  deleteEvent(event: CachedEvent): void {
    const key = keyOf(event.involvedObject);
    const events = this.eventsByObject.get(key);
    events?.delete(event.metadata.name);
    if (events?.size === 0) this.eventsByObject.delete(key);
  }

  /** The latest events about an object, newest first. */
  events(ref: FluxObjectRef): CachedEvent[] {
    return newestFirst([
      ...(this.eventsByObject.get(keyOf(ref))?.values() ?? []),
    ]);
  }

  private unfile(key: string) {
    const kept = this.objects.get(key);
    if (!kept) return;
    const terms = termsOf(kept);
    if (terms.url) remove(this.byUrl, terms.url, key);
    for (const source of terms.sources) remove(this.bySource, source, key);
    if (terms.kubernetesId)
      remove(this.byKubernetesId, terms.kubernetesId, key);
  }

  private resolve(keys: Filed | undefined): CachedFluxObject[] {
    if (keys === undefined) return [];
    const all = typeof keys === 'string' ? [keys] : [...keys];
    return all.flatMap(key => this.objects.get(key) ?? []);
  }
}

function newestFirst(events: CachedEvent[]): CachedEvent[] {
  const time = (e: CachedEvent) => Date.parse(e.lastSeen ?? '') || 0;
  return events.sort((a, b) => time(b) - time(a));
}
