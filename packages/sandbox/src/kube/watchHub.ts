import type { ObjectPredicate } from './selectors';
import { KubeObject, StoreError, WatchEvent } from './types';

/** One committed change, as kept for resuming watches. */
export interface ChangeRecord {
  revision: number;
  /** Identifies the storage (group/kind) the object lives in. */
  storageKey: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** In the storage version. */
  object: KubeObject;
  /** The state before a MODIFIED change, to tell selector watches about objects leaving. */
  previous?: KubeObject;
}

export interface WatchSubscription {
  storageKey: string;
  kind: string;
  /** Events are converted to this apiVersion. */
  apiVersion: string;
  namespace?: string;
  matches: ObjectPredicate;
  listener: (event: WatchEvent) => void;
  allowBookmarks?: boolean;
}

interface Watcher extends WatchSubscription {
  active: boolean;
  bookmarkTimer?: NodeJS.Timeout;
}

export interface WatchHubOptions {
  historyLimit: number;
  bookmarkIntervalMs: number;
  currentRevision: () => number;
}

/** Where a new watch starts: the given synthetic events, or the changes after a revision. */
export type WatchStart = { initial: WatchEvent[] } | { after: number };

/**
 * The watch side of a store: a bounded change history and ordered delivery to watchers,
 * which stays in order even when a listener writes to the store from its callback.
 */
export class WatchHub {
  private readonly history: ChangeRecord[] = [];
  /** Every change with a revision above this one is still in `history`. */
  private historyStart = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly queue: Array<{ watcher: Watcher; event: WatchEvent }> = [];
  private delivering = false;

  constructor(private readonly options: WatchHubOptions) {}

  /** Keeps a change and queues it for matching watchers; `deliver()` sends it. */
  record(change: ChangeRecord): void {
    this.history.push(change);
    while (this.history.length > this.options.historyLimit) {
      this.historyStart = this.history.shift()!.revision;
    }
    for (const watcher of this.watchers) {
      const event = this.eventFor(watcher, change);
      if (event) this.queue.push({ watcher, event });
    }
  }

  deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.queue.length > 0) {
        const { watcher, event } = this.queue.shift()!;
        if (!watcher.active) continue;
        try {
          watcher.listener(event);
        } catch {
          // A failing watcher must not abort the write of an unrelated caller.
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  /** Starts a watch; a start revision older than the kept history is a 410 Gone. */
  subscribe(subscription: WatchSubscription, start: WatchStart): () => void {
    const watcher: Watcher = { ...subscription, active: true };
    let replay: WatchEvent[];
    if ('initial' in start) {
      replay = start.initial;
    } else {
      if (start.after < this.historyStart) {
        throw new StoreError(
          410,
          'Gone',
          `too old resource version: ${start.after} (${this.historyStart + 1})`,
        );
      }
      replay = this.history
        .filter(change => change.revision > start.after)
        .map(change => this.eventFor(watcher, change))
        .filter((event): event is WatchEvent => event !== undefined);
    }
    this.watchers.add(watcher);
    replay.forEach(event => this.queue.push({ watcher, event }));
    this.deliver();
    if (watcher.allowBookmarks) {
      watcher.bookmarkTimer = setInterval(
        () => this.bookmark(watcher),
        this.options.bookmarkIntervalMs,
      );
      watcher.bookmarkTimer.unref();
    }
    return () => this.unsubscribe(watcher);
  }

  /** Forgets the history, like an etcd compaction. */
  compact(): void {
    this.history.length = 0;
    this.historyStart = this.options.currentRevision();
  }

  close(): void {
    [...this.watchers].forEach(watcher => this.unsubscribe(watcher));
  }

  private unsubscribe(watcher: Watcher): void {
    watcher.active = false;
    this.watchers.delete(watcher);
    clearInterval(watcher.bookmarkTimer);
  }

  private bookmark(watcher: Watcher): void {
    this.queue.push({
      watcher,
      event: {
        type: 'BOOKMARK',
        object: {
          apiVersion: watcher.apiVersion,
          kind: watcher.kind,
          metadata: {
            resourceVersion: String(this.options.currentRevision()),
          } as KubeObject['metadata'],
        },
      },
    });
    this.deliver();
  }

  private eventFor(
    watcher: Watcher,
    change: ChangeRecord,
  ): WatchEvent | undefined {
    if (change.storageKey !== watcher.storageKey) return undefined;
    const visible = (o: KubeObject | undefined) =>
      o !== undefined &&
      (!watcher.namespace || o.metadata.namespace === watcher.namespace) &&
      watcher.matches(o);
    const object = structuredClone(change.object);
    object.apiVersion = watcher.apiVersion;
    const nowVisible = visible(change.object);
    if (change.type !== 'MODIFIED') {
      return nowVisible ? { type: change.type, object } : undefined;
    }
    // A selector watch sees objects entering and leaving the selection as ADDED / DELETED.
    const wasVisible = visible(change.previous);
    if (nowVisible) return { type: wasVisible ? 'MODIFIED' : 'ADDED', object };
    return wasVisible ? { type: 'DELETED', object } : undefined;
  }
}
