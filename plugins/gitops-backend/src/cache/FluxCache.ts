import { LoggerService } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import pLimit from 'p-limit';
import { FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { GitOpsCluster } from '../clusters/types';
import { BackoffOptions, ClusterCache } from './ClusterCache';
import { CachedEvent, CachedFluxObject, ClusterHealth } from './types';

/**
 * Lists running at once over all clusters: a cold start at hundreds of clusters lists them
 * a few at a time instead of parsing every cluster's lists at once (memory peaks, and an
 * event loop too busy to answer requests).
 */
const LIST_CONCURRENCY = 32;

export interface FluxCacheOptions {
  logger: LoggerService;
  clusters?: GitOpsCluster[];
  /** Events kept per Flux object, the latest first. Default 20. */
  eventsPerObject?: number;
  backoff?: BackoffOptions;
}

/**
 * Every Flux object the backend reads, on every cluster, kept in memory by watches, so a
 * status request makes no cluster call. A cluster that cannot be reached keeps its data,
 * marked stale, and recovers by itself.
 */
export class FluxCache {
  private readonly clusters = new Map<string, ClusterCache>();
  private readonly listSlots = pLimit(LIST_CONCURRENCY);
  private started = false;

  static create(options: FluxCacheOptions): FluxCache {
    return new FluxCache(options);
  }

  private constructor(private readonly options: FluxCacheOptions) {
    for (const cluster of options.clusters ?? []) this.make(cluster);
  }

  /** Starts watching every cluster; returns at once, unreachable clusters are retried. */
  start(): void {
    this.started = true;
    for (const cache of this.clusters.values()) cache.start();
  }

  /** Stops every informer and pending retry. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.clusters.values()].map(cache => cache.stop()));
  }

  /** Adds a cluster, or replaces one of the same name (its data is dropped and watched anew). */
  async addCluster(cluster: GitOpsCluster): Promise<void> {
    // Known at once (the registration route answers with its health right away); a
    // previous cache of the same name stops in the background.
    const previous = this.clusters.get(cluster.name);
    const cache = this.make(cluster);
    if (this.started) cache.start();
    await previous?.stop();
  }

  async removeCluster(name: string): Promise<void> {
    const cache = this.clusters.get(name);
    this.clusters.delete(name);
    await cache?.stop();
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()];
  }

  health(cluster: string): ClusterHealth {
    return this.cluster(cluster).health();
  }

  isStale(cluster: string): boolean {
    return this.cluster(cluster).isStale();
  }

  /** The version a Flux API group is served at on a cluster (e.g. `v1`), once discovered. */
  versionOf(cluster: string, group: string): string | undefined {
    return this.cluster(cluster).versionOf(group);
  }

  /** Sources on every cluster whose `spec.url` normalizes to `normalizedUrl` (`parseRepositoryUrl`). */
  sourcesByUrl(normalizedUrl: string): CachedFluxObject[] {
    return this.all().flatMap(c => c.index.sourcesByUrl(normalizedUrl));
  }

  /** Kustomizations and HelmReleases taking their artifact or chart from `source`. */
  consumersOfSource(
    cluster: string,
    source: FluxObjectRef,
  ): CachedFluxObject[] {
    return this.cluster(cluster).index.consumersOfSource(source);
  }

  /** Flux objects on every cluster labelled `backstage.io/kubernetes-id=<id>`. */
  byKubernetesId(id: string): CachedFluxObject[] {
    return this.all().flatMap(c => c.index.byKubernetesIdLabel(id));
  }

  get(
    cluster: string,
    kind: FluxKind,
    namespace: string,
    name: string,
  ): CachedFluxObject | undefined {
    return this.cluster(cluster).index.get({ kind, namespace, name });
  }

  list(cluster: string, kind?: FluxKind): CachedFluxObject[] {
    return this.cluster(cluster).index.list(kind);
  }

  /** The latest Kubernetes Events about a Flux object, newest first. */
  events(cluster: string, involvedObject: FluxObjectRef): CachedEvent[] {
    return this.cluster(cluster).index.events(involvedObject);
  }

  private make(cluster: GitOpsCluster): ClusterCache {
    const cache = new ClusterCache(cluster, {
      logger: this.options.logger,
      eventsPerObject: this.options.eventsPerObject ?? 20,
      backoff: this.options.backoff,
      listSlots: this.listSlots,
    });
    this.clusters.set(cluster.name, cache);
    return cache;
  }

  private all(): ClusterCache[] {
    return [...this.clusters.values()];
  }

  private cluster(name: string): ClusterCache {
    const cache = this.clusters.get(name);
    if (!cache) throw new NotFoundError(`No cluster named "${name}"`);
    return cache;
  }
}
