import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClusterStore, KubeObject } from '../../kube/types';
import { RECEIVER } from './apiRefs';
import { isConditionTrue, READY } from '../conditions';
import {
  readReceiverToken,
  receiverSpec,
  receiverStatus,
  WEBHOOK_PATH_PREFIX,
} from './receiver';
import { validateReceiverRequest } from './receiverValidation';
import { requestReconciliation } from './reconcileRequests';

/** The receiver server's cap on request bodies (3 MiB). */
export const MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024;
const MAX_KEPT_RECORDS = 1000;

export interface ReceiverRequestRecord {
  time: string;
  /** When the request arrived: epoch ms with sub-millisecond precision, for latency measurements. */
  receivedAt: number;
  method: string;
  path: string;
  /** `namespace/name` of the Receiver the path resolved to. */
  receiver?: string;
  status: number;
  message?: string;
}

export interface ReceiverFaults {
  /** Answers the next `count` requests with `status` (e.g. 503) without handling them. */
  failNext(count: number, status: number): void;
  clear(): void;
}

/** An `http` request listener that also exposes what it handled and its fault switch. */
export type ReceiverHandler = ((
  req: IncomingMessage,
  res: ServerResponse,
) => void) & {
  readonly requests: ReceiverRequestRecord[];
  /** Requests answered so far per HTTP status, all of them (`requests` keeps the latest 1000). */
  readonly answered: Map<number, number>;
  readonly faults: ReceiverFaults;
};

export interface ReceiverHandlerOptions {
  store: ClusterStore;
  /** The controller's `--no-cross-namespace-refs` flag. */
  noCrossNamespaceRefs?: boolean;
}

type BodyRead = { body: Buffer } | { tooLarge: true } | { error: string };

/** Reads the whole body but keeps at most the limit, so an oversized upload still gets its 413. */
function readBody(req: IncomingMessage): Promise<BodyRead> {
  return new Promise(resolve => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_SIZE_BYTES) {
        chunks.push(chunk);
      }
    });
    req.on('end', () =>
      resolve(
        size > MAX_REQUEST_SIZE_BYTES
          ? { tooLarge: true }
          : { body: Buffer.concat(chunks) },
      ),
    );
    req.on('error', error => resolve({ error: error.message }));
  });
}

function respond(res: ServerResponse, status: number, message?: string): void {
  res.statusCode = status;
  if (!message) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${message}\n`);
}

function receiverKey(receiver: KubeObject): string {
  return `${receiver.metadata.namespace}/${receiver.metadata.name}`;
}

/**
 * The notification-controller's webhook receiver (`:9292`, Service `webhook-receiver`).
 * `req.url` must be the path as the receiver sees it (`/hook/<digest>`): a Service proxy
 * strips its `/api/v1/namespaces/.../proxy` prefix before calling this handler.
 */
export function createReceiverHandler(
  options: ReceiverHandlerOptions,
): ReceiverHandler {
  const { store, noCrossNamespaceRefs = false } = options;
  const requests: ReceiverRequestRecord[] = [];
  const answered = new Map<number, number>();
  const injected: number[] = [];

  const faults: ReceiverFaults = {
    failNext(count, status) {
      for (let i = 0; i < count; i++) {
        injected.push(status);
      }
    },
    clear() {
      injected.length = 0;
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const receivedAt = performance.timeOrigin + performance.now();
    const path = req.url ?? '/';
    const finish = (
      status: number,
      receiver?: KubeObject,
      message?: string,
      body?: string,
    ) => {
      answered.set(status, (answered.get(status) ?? 0) + 1);
      requests.push({
        time: new Date().toISOString(),
        receivedAt,
        method: req.method ?? 'GET',
        path,
        receiver: receiver && receiverKey(receiver),
        status,
        message,
      });
      if (requests.length > MAX_KEPT_RECORDS) {
        requests.shift();
      }
      respond(res, status, body ?? message);
    };

    const faultStatus = injected.shift();
    if (faultStatus !== undefined) {
      finish(faultStatus, undefined, 'injected fault');
      return;
    }
    if (!path.startsWith(WEBHOOK_PATH_PREFIX)) {
      finish(404, undefined, undefined, '404 page not found');
      return;
    }
    // The real server looks Receivers up by an index on status.webhookPath, against the raw request URI.
    const receiver = store
      .list(RECEIVER)
      .items.find(item => receiverStatus(item).webhookPath === path);
    if (!receiver) {
      finish(404);
      return;
    }
    const spec = receiverSpec(receiver);
    if (spec.suspend) {
      finish(503, receiver, 'receiver is suspended');
      return;
    }
    if (!isConditionTrue({ status: receiver.status }, READY)) {
      finish(503, receiver, 'receiver is not ready');
      return;
    }
    const read = await readBody(req);
    if ('tooLarge' in read) {
      finish(
        413,
        receiver,
        `request body exceeds the maximum size of ${MAX_REQUEST_SIZE_BYTES} bytes`,
      );
      return;
    }
    if ('error' in read) {
      finish(400, receiver, `reading the request body failed: ${read.error}`);
      return;
    }

    const token = readReceiverToken(store, receiver);
    const validation = token.ok
      ? validateReceiverRequest(spec, req.headers, read.body, token.token)
      : {
          valid: false as const,
          error: `unable to read token, error: ${token.error}`,
        };
    if (!validation.valid) {
      finish(400, receiver, `unable to validate payload: ${validation.error}`);
      return;
    }
    if (validation.ping) {
      finish(
        200,
        receiver,
        'GitHub ping event, no reconciliation requested',
        '',
      );
      return;
    }

    const namespace = receiver.metadata.namespace ?? '';
    const errors = (spec.resources ?? [])
      .map(resource =>
        requestReconciliation(store, resource, namespace, noCrossNamespaceRefs),
      )
      .filter((error): error is string => error !== undefined);
    if (errors.length > 0) {
      finish(
        500,
        receiver,
        `unable to request reconciliation: ${errors.join('; ')}`,
      );
      return;
    }
    finish(200, receiver);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(error => {
      if (!res.headersSent) {
        respond(res, 500, String(error));
      }
    });
  };
  return Object.assign(handler, { requests, answered, faults });
}
