import { apiVersionOf } from './apiVersions';
import type { ResourceContext } from './handlers';
import { failureStatus } from './status';
import { StoreError, WatchEvent } from './types';

/** The open watch streams of one server, so that they can be counted and dropped. */
export class WatchRegistry {
  private readonly open = new Set<() => void>();

  count(): number {
    return this.open.size;
  }

  /** Ends every stream cleanly: clients see the response end, as after an API server restart. */
  endAll(): void {
    [...this.open].forEach(end => end());
  }

  /**
   * Streams watch events as JSON lines. An expired resourceVersion is reported the way the
   * watch cache does it: HTTP 200, one ERROR event carrying a 410 Expired Status, then the end.
   */
  serve(ctx: ResourceContext, defaultTimeoutSeconds: number): void {
    const { route, query, res } = ctx;
    const pending: WatchEvent[] = [];
    let streaming = false;
    const send = (event: WatchEvent) => {
      if (streaming) res.write(`${JSON.stringify(event)}\n`);
      else pending.push(event);
    };

    let unsubscribe: () => void;
    try {
      unsubscribe = ctx.store.watch(
        { apiVersion: apiVersionOf(route.type), kind: route.type.kind },
        {
          namespace: route.namespace,
          labelSelector: query.get('labelSelector') ?? undefined,
          fieldSelector: query.get('fieldSelector') ?? undefined,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          allowBookmarks: query.get('allowWatchBookmarks') === 'true',
        },
        send,
      );
    } catch (error) {
      if (!(error instanceof StoreError) || error.code !== 410) throw error;
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-cache, private',
      });
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: failureStatus(410, error.message, 'Expired'),
        })}\n`,
      );
      return;
    }

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    streaming = true;
    pending.splice(0).forEach(send);

    const requested = Number(query.get('timeoutSeconds'));
    const timeoutSeconds = requested > 0 ? requested : defaultTimeoutSeconds;
    const deadline: { timer?: NodeJS.Timeout } = {};
    const end = () => {
      unsubscribe();
      clearTimeout(deadline.timer);
      this.open.delete(end);
      if (!res.writableEnded) res.end();
    };
    deadline.timer = setTimeout(end, timeoutSeconds * 1000);
    this.open.add(end);
    res.on('close', end);
  }
}
