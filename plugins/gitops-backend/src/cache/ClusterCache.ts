import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ListWatch,
  V1ListMeta,
  Watch,
} from '@kubernetes/client-node';
import type pLimit from 'p-limit';
import { LoggerService } from '@backstage/backend-plugin-api';
import { FluxKind, fluxKinds, isFluxKind } from '../actions/fluxKinds';
import { GitOpsCluster } from '../clusters/types';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { discoverFluxVersions } from './discovery';
import { FluxIndex } from './FluxIndex';
import { projectFluxEvent, projectFluxObject } from './projection';
import {
  CachedEvent,
  CachedFluxObject,
  ClusterHealth,
  DiscoveredKind,
} from './types';
import { jitteredBackoff } from '../service/backoff';

export interface BackoffOptions {
  /** First retry delay. Default 500 ms. */
  initialMs?: number;
  /** Longest retry delay, so a returning cluster is fresh again within it. Default 5 s. */
  maxMs?: number;
}

export interface ClusterCacheOptions {
  logger: LoggerService;
  eventsPerObject: number;
  backoff?: BackoffOptions;
  /** Shared by every cluster: how many lists run at once (see `FluxCache`). */
  listSlots?: pLimit.Limit;
}

/**
 * Objects per list page: a cluster with thousands of objects is read in pages, each
 * projected before the next is parsed, so a cold start never holds whole raw lists.
 */
export const LIST_PAGE_SIZE = 500;

/** Reads every page of a list, keeping only what `keep` makes of each item. */
async function listAllPages<T>(
  page: (
    _continue: string | undefined,
  ) => Promise<{ metadata?: V1ListMeta; items?: unknown[] }>,
  keep: (item: any) => T | undefined,
): Promise<{ metadata?: V1ListMeta; items: T[] }> {
  const items: T[] = [];
  let metadata: V1ListMeta | undefined;
  let next: string | undefined;
  do {
    const listed = await page(next);
    // Every page of one list is the same snapshot: the first page's resourceVersion.
    metadata ??= listed.metadata;
    for (const item of listed.items ?? []) {
      const kept = keep(item);
      if (kept !== undefined) items.push(kept);
    }
    // Typed lists (Events) name the token `_continue`; custom objects come as plain JSON: `continue`.
    const meta = listed.metadata as
      | (V1ListMeta & { continue?: string })
      | undefined;
    next = meta?._continue || meta?.continue || undefined;
  } while (next);
  return {
    metadata: metadata && { resourceVersion: metadata.resourceVersion },
    items,
  };
}

type Projector = (phase: string, object: any) => KubernetesObject | undefined;

/** How one informer is doing. */
interface WatchStatus {
  name: FluxKind | 'Event';
  open: boolean;
  attempts: number;
  retry?: NodeJS.Timeout;
}

interface WatchState extends WatchStatus {
  informer: ListWatch<KubernetesObject>;
}

/**
 * A watch whose events are projected before the informer caches them (so it holds the
 * trimmed objects only), and which reports when its stream is open.
 */
class ProjectingWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly hooks: {
      project: Projector;
      isStopped(): boolean;
      onEvent(): void;
      onOpen(): void;
    },
  ) {
    super(kubeConfig);
  }

  override async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, object: any, watchObject?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    // The informer opens its watch after a list without checking whether it was stopped meanwhile.
    if (this.hooks.isStopped()) {
      const aborted = new AbortController();
      aborted.abort();
      return aborted;
    }
    let ended = false;
    const controller = await super.watch(
      path,
      query,
      (phase, object, watchObject) => {
        if (phase === 'ERROR' || phase === 'BOOKMARK') {
          callback(phase, object, watchObject);
          return;
        }
        this.hooks.onEvent();
        const projected = this.hooks.project(phase, object);
        // Objects that are not kept still move the informer's resourceVersion on.
        callback(
          projected ? phase : 'BOOKMARK',
          projected ?? {
            metadata: { resourceVersion: object?.metadata?.resourceVersion },
          },
          watchObject,
        );
      },
      err => {
        ended = true;
        done(err);
      },
    );
    if (!ended) this.hooks.onOpen();
    return controller;
  }
}

/** An error's message for health and logs: the HTTP status and the server's message, never credentials. */
export function describeError(error: unknown, secret: string): string {
  let message: string;
  if (error instanceof ApiException) {
    const body = (
      typeof error.body === 'string' ? safeParse(error.body) : error.body
    ) as { message?: string } | undefined;
    message = `HTTP ${error.code}${body?.message ? `: ${body.message}` : ''}`;
  } else if (error instanceof Error) {
    const code = (error as { statusCode?: number }).statusCode;
    message = code ? `HTTP ${code}: ${error.message}` : error.message;
  } else {
    message = String(error);
  }
  return secret ? message.split(secret).join('***') : message;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The Flux kinds watched on every cluster (Provider and Alert are only discovered). */
const WATCHED_KINDS = Object.keys(fluxKinds).filter(isFluxKind);

/**
 * Keeps one cluster's Flux objects and their events in memory: discovery, one informer per
 * kind plus one for Events, retries with bounded backoff, and the cluster's health.
 */
export class ClusterCache {
  readonly index: FluxIndex;
  private readonly kubeConfig: KubeConfig;
  private readonly logger: LoggerService;
  private versions: Partial<Record<DiscoveredKind, string>> = {};
  private readonly watches: WatchState[] = [];
  private stopped = true;
  private discovered = false;
  private discoveryAttempts = 0;
  private discoveryRetry?: NodeJS.Timeout;
  private lastEventAt?: Date;
  private lastError?: { message: string; at: Date };
  private staleSince?: Date = new Date();
  private syncedUntil?: Date;

  constructor(
    readonly cluster: GitOpsCluster,
    private readonly options: ClusterCacheOptions,
  ) {
    this.index = new FluxIndex(options.eventsPerObject);
    this.kubeConfig = kubeConfigFor(cluster);
    this.logger = options.logger.child({ cluster: cluster.name });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.discover();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.discoveryRetry);
    for (const watch of this.watches) {
      clearTimeout(watch.retry);
      await watch.informer.stop();
      watch.open = false;
    }
  }

  /** The apiVersion a group's kinds are watched and patched at, e.g. `v1` (Receiver's for notification). */
  versionOf(group: string): string | undefined {
    for (const kind of WATCHED_KINDS) {
      const apiVersion = this.versions[kind];
      if (fluxKinds[kind].group === group && apiVersion)
        return apiVersion.split('/')[1];
    }
    return undefined;
  }

  isStale(): boolean {
    return this.staleSince !== undefined;
  }

  health(): ClusterHealth {
    const now = new Date();
    return {
      connected: this.discovered && this.watches.every(w => w.open),
      stale: this.isStale(),
      servedFluxVersions: { ...this.versions },
      cachedObjects: this.index.size,
      lastEventAt: this.lastEventAt?.toISOString(),
      lastSyncedAt: (this.isStale() ? this.syncedUntil : now)?.toISOString(),
      lastError: this.lastError && {
        message: this.lastError.message,
        at: this.lastError.at.toISOString(),
      },
      staleSince: this.staleSince?.toISOString(),
    };
  }

  private async discover(): Promise<void> {
    try {
      this.versions = await discoverFluxVersions(this.kubeConfig);
    } catch (error) {
      if (this.stopped) return;
      this.failed('API discovery', error);
      this.discoveryRetry = setTimeout(
        () => void this.discover(),
        this.backoff(this.discoveryAttempts++),
      );
      return;
    }
    if (this.stopped) return;
    this.discovered = true;
    this.logger.info(
      `Flux API versions served: ${
        Object.values(this.versions).join(', ') || 'none'
      }`,
    );
    const custom = this.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const kind of WATCHED_KINDS) {
      const apiVersion = this.versions[kind];
      if (!apiVersion) continue;
      const [group, version] = apiVersion.split('/');
      const { plural } = fluxKinds[kind];
      const project = (raw: any) =>
        projectFluxObject(
          raw,
          this.cluster.name,
          kind,
          apiVersion,
        ) as unknown as KubernetesObject;
      this.addWatch(
        kind,
        `/apis/${group}/${version}/${plural}`,
        () =>
          listAllPages(
            _continue =>
              custom.listClusterCustomObject({
                group,
                version,
                plural,
                limit: LIST_PAGE_SIZE,
                _continue,
              }),
            project,
          ),
        (_phase, raw) => project(raw),
        {
          upsert: o => this.index.upsert(o as unknown as CachedFluxObject),
          remove: o =>
            this.index.delete({
              kind,
              ...(o as unknown as CachedFluxObject).metadata,
            }),
        },
      );
    }
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const projectEvent = (raw: any) =>
      projectFluxEvent(raw) as unknown as KubernetesObject | undefined;
    this.addWatch(
      'Event',
      '/api/v1/events',
      // Cluster-wide: Flux objects, and so their events, live in any namespace.
      () =>
        listAllPages(
          _continue =>
            core.listEventForAllNamespaces({
              limit: LIST_PAGE_SIZE,
              _continue,
            }),
          projectEvent,
        ),
      (_phase, raw) => projectEvent(raw),
      {
        upsert: o => this.index.upsertEvent(o as unknown as CachedEvent),
        remove: o => this.index.deleteEvent(o as unknown as CachedEvent),
      },
    );
    for (const watch of this.watches) this.run(watch);
  }

  private addWatch(
    name: WatchState['name'],
    path: string,
    list: () => Promise<KubernetesListObject<KubernetesObject>>,
    project: Projector,
    handlers: {
      upsert(object: KubernetesObject): void;
      remove(object: KubernetesObject): void;
    },
  ) {
    const status: WatchStatus = { name, open: false, attempts: 0 };
    const hooks = {
      project,
      isStopped: () => this.stopped,
      onEvent: () => {
        this.lastEventAt = new Date();
      },
      onOpen: () => this.opened(status),
    };
    const informer = new ListWatch(
      path,
      new ProjectingWatch(this.kubeConfig, hooks),
      async () => {
        const slots = this.options.listSlots;
        const result = await (slots ? slots(list) : list());
        this.lastEventAt = new Date();
        return result;
      },
      false,
    );
    const state: WatchState = Object.assign(status, { informer });
    const guard =
      (handle: (object: KubernetesObject) => void) =>
      (object: KubernetesObject) => {
        try {
          handle(object);
        } catch (error) {
          this.logger.error(
            `Could not cache a ${name}: ${describeError(error, '')}`,
          );
        }
      };
    informer.on('add', guard(handlers.upsert));
    informer.on('update', guard(handlers.upsert));
    informer.on('delete', guard(handlers.remove));
    // The informer stops on any error but 410 (which it relists on): retry with backoff.
    informer.on('error', error => this.retryLater(state, error));
    this.watches.push(state);
  }

  private run(state: WatchState) {
    if (this.stopped) return;
    state.informer.start().catch(error => this.retryLater(state, error));
  }

  private retryLater(state: WatchState, error: unknown) {
    if (this.stopped) return;
    state.open = false;
    this.failed(`${state.name} watch`, error);
    clearTimeout(state.retry);
    state.retry = setTimeout(
      () => this.run(state),
      this.backoff(state.attempts++),
    );
  }

  private opened(status: WatchStatus) {
    status.open = true;
    status.attempts = 0;
    if (this.isStale() && this.watches.every(w => w.open)) {
      this.staleSince = undefined;
      this.syncedUntil = undefined;
      this.logger.info('Flux cache in sync');
    }
  }

  private failed(what: string, error: unknown) {
    const message = `${what} failed: ${describeError(
      error,
      this.cluster.auth.token,
    )}`;
    const at = new Date();
    this.lastError = { message, at };
    if (!this.isStale()) {
      this.staleSince = at;
      this.syncedUntil = at;
      this.logger.warn(`Flux cache is stale: ${message}`);
    } else {
      this.logger.debug(message);
    }
  }

  private backoff(attempt: number): number {
    // Jittered, so the watches of a returning cluster do not all reconnect at once.
    return jitteredBackoff(attempt, {
      initialMs: this.options.backoff?.initialMs ?? 500,
      maxMs: this.options.backoff?.maxMs ?? 5000,
    });
  }
}
