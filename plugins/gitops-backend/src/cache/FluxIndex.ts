import {
  ANNOTATION_KUBERNETES_ID,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { CachedEvent, CachedFluxObject } from './types';

type SourceRef = { kind?: unknown; name?: unknown; namespace?: unknown };

const keyOf = (ref: FluxObjectRef) =>
  `${ref.kind}/${ref.namespace}/${ref.name}`;

function refKey(ref: unknown, defaultNamespace: string): string | undefined {
  const r = (ref ?? {}) as SourceRef;
  if (typeof r.kind !== 'string' || typeof r.name !== 'string')
    return undefined;
  const namespace =
    typeof r.namespace === 'string' && r.namespace
      ? r.namespace
      : defaultNamespace;
  return `${r.kind}/${namespace}/${r.name}`;
}

/** The normalized repository URL of a source, when it has a parsable one. */
function normalizedUrl(object: CachedFluxObject): string | undefined {
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
function sourceKeysOf(object: CachedFluxObject): string[] {
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

/** The index terms an object is filed under, so an update can unfile exactly what it filed. */
interface Terms {
  url?: string;
  sources: string[];
  kubernetesId?: string;
}

function add(map: Map<string, Set<string>>, term: string, key: string) {
  let keys = map.get(term);
  if (!keys) map.set(term, (keys = new Set()));
  keys.add(key);
}

function remove(map: Map<string, Set<string>>, term: string, key: string) {
  const keys = map.get(term);
  keys?.delete(key);
  if (keys?.size === 0) map.delete(term);
}

/** One cluster's Flux objects and events, indexed for the queries status requests make. */
export class FluxIndex {
  private readonly objects = new Map<string, CachedFluxObject>();
  private readonly terms = new Map<string, Terms>();
  private readonly byUrl = new Map<string, Set<string>>();
  private readonly bySource = new Map<string, Set<string>>();
  private readonly byKubernetesId = new Map<string, Set<string>>();
  private readonly eventsByObject = new Map<string, Map<string, CachedEvent>>();

  constructor(private readonly eventsPerObject: number) {}

  upsert(object: CachedFluxObject): void {
    const key = keyOf({ kind: object.kind, ...object.metadata });
    this.unfile(key);
    const terms: Terms = {
      url: normalizedUrl(object),
      sources: sourceKeysOf(object),
      kubernetesId: object.metadata.labels?.[ANNOTATION_KUBERNETES_ID],
    };
    if (terms.url) add(this.byUrl, terms.url, key);
    for (const source of terms.sources) add(this.bySource, source, key);
    if (terms.kubernetesId) add(this.byKubernetesId, terms.kubernetesId, key);
    this.terms.set(key, terms);
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
    const terms = this.terms.get(key);
    if (!terms) return;
    if (terms.url) remove(this.byUrl, terms.url, key);
    for (const source of terms.sources) remove(this.bySource, source, key);
    if (terms.kubernetesId)
      remove(this.byKubernetesId, terms.kubernetesId, key);
    this.terms.delete(key);
  }

  private resolve(keys: Set<string> | undefined): CachedFluxObject[] {
    return [...(keys ?? [])].flatMap(key => this.objects.get(key) ?? []);
  }
}

function newestFirst(events: CachedEvent[]): CachedEvent[] {
  const time = (e: CachedEvent) => Date.parse(e.lastSeen ?? '') || 0;
  return events.sort((a, b) => time(b) - time(a));
}
