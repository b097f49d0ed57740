import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface RecordingServer {
  /** `http://<host>:<port>` */
  url: string;
  host: string;
  port: number;
  /** Every request that reached it, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP server nothing configures: tests aim crafted values at it and assert that no
 * request (least of all one with a credential) ever reaches it. It answers 200 `{}`.
 */
export async function startRecordingServer(
  host = '127.0.0.1',
): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
    });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>(resolve => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    requests,
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
