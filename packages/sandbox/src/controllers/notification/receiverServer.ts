import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterStore } from '../../kube/types';
import { createReceiverHandler, type ReceiverHandler } from './receiverHandler';

export interface ReceiverServerOptions {
  store: ClusterStore;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Serve an existing handler (e.g. the controller's) instead of a new one. */
  handler?: ReceiverHandler;
  noCrossNamespaceRefs?: boolean;
}

export interface ReceiverServer {
  /** The "direct" receiver URL, e.g. `http://127.0.0.1:41234`; append `status.webhookPath`. */
  url: string;
  handler: ReceiverHandler;
  stop(): Promise<void>;
}

/** Serves the webhook receiver on its own 127.0.0.1 port. */
export async function startReceiverServer(
  options: ReceiverServerOptions,
): Promise<ReceiverServer> {
  const handler =
    options.handler ??
    createReceiverHandler({
      store: options.store,
      noCrossNamespaceRefs: options.noCrossNamespaceRefs,
    });
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    handler,
    stop: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
