import type {
  ClusterStore,
  KubeObject,
  TypeRef,
  WatchEvent,
} from '../kube/types';
import { StoreError } from '../kube/types';

/** The annotation `flux reconcile` (and Receivers) set to ask for a reconciliation now. */
export const RECONCILE_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface ObjectKey {
  namespace?: string;
  name: string;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  return {
    namespace: namespace === '' ? undefined : namespace,
    name: key.slice(slash + 1),
  };
}

export function keyOfObject(object: KubeObject): string {
  return objectKey(object.metadata.namespace, object.metadata.name);
}

export type WatchListener = (
  event: WatchEvent,
  previous: KubeObject | undefined,
) => void;

/**
 * Lists a kind and then watches it from the list's resourceVersion (an informer, in
 * short): every existing object is reported as ADDED, later changes with the object as
 * last seen. A watch that fell behind the store's history (410) is re-listed. Kinds
 * the cluster does not serve are not watched.
 */
export function watchKind(
  store: ClusterStore,
  type: TypeRef,
  listener: WatchListener,
): () => void {
  const lastSeen = new Map<string, KubeObject>();
  let unsubscribe: (() => void) | undefined;
  let stopped = false;
  // A cluster that does not serve the kind (e.g. no Flux installed) has nothing to watch.
  if (!store.findType(type)) return () => {};

  const deliver = (event: WatchEvent) => {
    if (stopped || event.type === 'BOOKMARK') return;
    const key = keyOfObject(event.object);
    const previous = lastSeen.get(key);
    if (event.type === 'DELETED') {
      lastSeen.delete(key);
    } else {
      lastSeen.set(key, event.object);
    }
    listener(event, previous);
  };

  const start = () => {
    const { items, resourceVersion } = store.list(type);
    const present = new Set(items.map(keyOfObject));
    for (const [key, object] of [...lastSeen]) {
      if (!present.has(key)) deliver({ type: 'DELETED', object });
    }
    for (const object of items) {
      deliver({
        type: lastSeen.has(keyOfObject(object)) ? 'MODIFIED' : 'ADDED',
        object,
      });
    }
    try {
      unsubscribe = store.watch(type, { resourceVersion }, deliver);
    } catch (error) {
      if (error instanceof StoreError && error.code === 410) {
        start();
        return;
      }
      throw error;
    }
  };

  start();
  return () => {
    stopped = true;
    unsubscribe?.();
  };
}

/**
 * controller-runtime's `GenerationChangedPredicate` or Flux's `ReconcileRequestedPredicate`,
 * plus the start of a deletion (which the finalizer has to handle).
 */
export function reconcileRequested(
  previous: KubeObject,
  current: KubeObject,
): boolean {
  if (
    (current.metadata.generation ?? 0) !== (previous.metadata.generation ?? 0)
  )
    return true;
  const requestedAt = current.metadata.annotations?.[RECONCILE_REQUESTED_AT];
  if (
    requestedAt !== undefined &&
    requestedAt !== previous.metadata.annotations?.[RECONCILE_REQUESTED_AT]
  ) {
    return true;
  }
  return Boolean(
    current.metadata.deletionTimestamp && !previous.metadata.deletionTimestamp,
  );
}

export interface ReconcileOutcome {
  /** Reconcile again after this long (a Flux object's `spec.interval` or `retryInterval`). */
  requeueAfterMs?: number;
  /**
   * The reconciliation failed with an error the controller returns to controller-runtime:
   * it is retried with the rate limiter's exponential backoff instead of an interval.
   */
  retryWithBackoff?: boolean;
}

export interface ReconcileContext {
  /** Aborted when the controller stops. */
  signal: AbortSignal;
}

export interface ControllerLogger {
  error(message: string, error: unknown): void;
}

const stderrLogger: ControllerLogger = {
  error(message, error) {
    process.stderr.write(
      `${message}: ${
        error instanceof Error ? error.stack ?? error.message : String(error)
      }\n`,
    );
  },
};

export interface ControllerOptions {
  store: ClusterStore;
  /** The kind reconciled (listed and watched at this apiVersion). */
  type: TypeRef;
  /** Used in log lines, e.g. `kustomize-controller`. */
  name: string;
  reconcile(
    object: KubeObject,
    context: ReconcileContext,
  ): Promise<ReconcileOutcome | void>;
  /** Called once the object is gone from the store. */
  onDeleted?(
    key: ObjectKey,
    lastSeen: KubeObject | undefined,
  ): void | Promise<void>;
  /** Which updates queue a reconciliation; `reconcileRequested` by default. */
  shouldReconcile?(previous: KubeObject, current: KubeObject): boolean;
  /** Objects reconciled in parallel (each object is only ever reconciled once at a time). */
  concurrency?: number;
  /** The rate limiter's backoff bounds (Flux: `--min-retry-delay=750ms`, `--max-retry-delay=15m`). */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  logger?: ControllerLogger;
}

export interface Controller {
  /** Queues a reconciliation of the object now (e.g. when a dependency became ready). */
  trigger(namespace: string | undefined, name: string): void;
  /** Cancels timers and watches, aborts running reconciliations and waits for them. */
  stop(): Promise<void>;
}

interface QueueItem {
  queued: boolean;
  running: boolean;
  /** Requested again while running: run once more afterwards. */
  dirty: boolean;
  timer?: NodeJS.Timeout;
  failures: number;
  lastSeen?: KubeObject;
}

/**
 * A controller-runtime style controller: a work queue deduplicated per object, one
 * reconciliation at a time per object, bounded concurrency, requeue after an interval
 * or with backoff on errors.
 */
class QueueController implements Controller {
  private readonly items = new Map<string, QueueItem>();
  private readonly ready: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly shouldReconcile: (
    previous: KubeObject,
    current: KubeObject,
  ) => boolean;
  private readonly concurrency: number;
  private readonly minRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly logger: ControllerLogger;
  private readonly unwatch: () => void;
  private active = 0;
  private stopped = false;
  private pumpScheduled = false;

  constructor(private readonly options: ControllerOptions) {
    this.shouldReconcile = options.shouldReconcile ?? reconcileRequested;
    this.concurrency = options.concurrency ?? 4;
    this.minRetryDelayMs = options.minRetryDelayMs ?? 750;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 15 * 60_000;
    this.logger = options.logger ?? stderrLogger;
    this.unwatch = watchKind(options.store, options.type, (event, previous) =>
      this.observe(event, previous),
    );
  }

  trigger(namespace: string | undefined, name: string): void {
    this.enqueue(objectKey(namespace, name));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unwatch();
    this.abort.abort();
    for (const item of this.items.values()) clearTimeout(item.timer);
    await Promise.allSettled([...this.running]);
  }

  private observe(event: WatchEvent, previous: KubeObject | undefined): void {
    const key = keyOfObject(event.object);
    const item = this.itemFor(key);
    item.lastSeen = event.object;
    if (
      event.type === 'ADDED' ||
      event.type === 'DELETED' ||
      !previous ||
      this.shouldReconcile(previous, event.object)
    ) {
      this.enqueue(key);
    }
  }

  private itemFor(key: string): QueueItem {
    let item = this.items.get(key);
    if (!item) {
      item = { queued: false, running: false, dirty: false, failures: 0 };
      this.items.set(key, item);
    }
    return item;
  }

  private enqueue(key: string): void {
    if (this.stopped) return;
    const item = this.itemFor(key);
    clearTimeout(item.timer);
    item.timer = undefined;
    if (item.running) {
      item.dirty = true;
      return;
    }
    if (!item.queued) {
      item.queued = true;
      this.ready.push(key);
      this.schedulePump();
    }
  }

  private enqueueAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    const item = this.itemFor(key);
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      item.timer = undefined;
      this.enqueue(key);
    }, Math.max(0, delayMs));
  }

  // Store watchers are called inside store writes: never reconcile synchronously there.
  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (
      !this.stopped &&
      this.active < this.concurrency &&
      this.ready.length > 0
    ) {
      this.start(this.ready.shift()!);
    }
  }

  private start(key: string): void {
    const item = this.itemFor(key);
    item.queued = false;
    item.running = true;
    this.active++;
    const task = this.process(key, item).finally(() => {
      this.running.delete(task);
      item.running = false;
      this.active--;
      if (item.dirty) {
        item.dirty = false;
        this.enqueue(key);
      }
      this.schedulePump();
    });
    this.running.add(task);
  }

  private backoff(failures: number): number {
    return Math.min(
      this.maxRetryDelayMs,
      this.minRetryDelayMs * 2 ** Math.min(failures - 1, 30),
    );
  }

  private async process(key: string, item: QueueItem): Promise<void> {
    const { store, type, name: controllerName } = this.options;
    const { namespace, name } = parseKey(key);
    const object = store.get(type, namespace, name);
    if (!object) {
      this.items.delete(key);
      clearTimeout(item.timer);
      try {
        await this.options.onDeleted?.({ namespace, name }, item.lastSeen);
      } catch (error) {
        this.logger.error(`${controllerName}: cleanup of ${key} failed`, error);
      }
      return;
    }
    try {
      const outcome =
        (await this.options.reconcile(object, { signal: this.abort.signal })) ??
        {};
      if (this.stopped) return;
      if (outcome.retryWithBackoff) {
        item.failures++;
        this.enqueueAfter(key, this.backoff(item.failures));
        return;
      }
      item.failures = 0;
      if (outcome.requeueAfterMs !== undefined && !item.dirty) {
        this.enqueueAfter(key, outcome.requeueAfterMs);
      }
    } catch (error) {
      if (this.stopped) return;
      // Conflicts and objects deleted mid-way are retried quietly, like controller-runtime.
      if (
        !(
          error instanceof StoreError &&
          (error.code === 404 || error.code === 409)
        )
      ) {
        this.logger.error(
          `${controllerName}: reconciliation of ${key} failed`,
          error,
        );
      }
      item.failures++;
      this.enqueueAfter(key, this.backoff(item.failures));
    }
  }
}

export function startController(options: ControllerOptions): Controller {
  return new QueueController(options);
}

/** Resolves after `ms`, or rejects early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: NodeJS.Timeout | undefined = undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
