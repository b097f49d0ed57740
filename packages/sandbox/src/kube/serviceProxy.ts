import http, { IncomingMessage, ServerResponse } from 'node:http';
import { failureStatus, type KubeStatus } from './status';

/** An in-process backend of a Service, written like a node `http` request listener. */
export type ServiceHandler = (
  req: IncomingMessage,
  res: ServerResponse,
) => void;

/** `webhook-receiver`, `webhook-receiver:80`, `http:webhook-receiver:80` → parts. */
export function parseServiceReference(reference: string): {
  scheme?: string;
  name: string;
  port?: string;
} {
  const parts = reference.split(':');
  if (parts.length === 3)
    return {
      scheme: parts[0] || undefined,
      name: parts[1],
      port: parts[2] || undefined,
    };
  if (parts.length === 2)
    return { name: parts[0], port: parts[1] || undefined };
  return { name: reference };
}

/** Request headers the API server does not pass on to the backend. */
const DROPPED_HEADERS = new Set([
  'authorization',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'upgrade',
]);

function sendStatus(res: ServerResponse, status: KubeStatus): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status.code ?? 500, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(status));
}

/** Hands the request to an in-process handler, as if it had arrived at the backend itself. */
export function proxyToHandler(
  handler: ServiceHandler,
  req: IncomingMessage,
  res: ServerResponse,
  forwardPath: string,
): void {
  req.url = forwardPath;
  for (const header of DROPPED_HEADERS) delete req.headers[header];
  const rawHeaders: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!DROPPED_HEADERS.has(req.rawHeaders[i].toLowerCase())) {
      rawHeaders.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
  }
  req.rawHeaders.splice(0, req.rawHeaders.length, ...rawHeaders);
  try {
    handler(req, res);
  } catch (error) {
    sendStatus(
      res,
      failureStatus(
        503,
        `error trying to reach service: ${(error as Error).message}`,
      ),
    );
  }
}

/** Streams the request to a backend URL and its response back. */
export function proxyToUrl(
  target: string,
  req: IncomingMessage,
  res: ServerResponse,
  forwardPath: string,
): void {
  const base = new URL(target);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!DROPPED_HEADERS.has(name) && name !== 'host' && value !== undefined)
      headers[name] = value;
  }
  headers.host = base.host;
  const upstream = http.request(
    {
      hostname: base.hostname,
      port: base.port,
      path: `${base.pathname.replace(/\/$/, '')}${forwardPath}`,
      method: req.method,
      headers,
    },
    backendResponse => {
      res.writeHead(backendResponse.statusCode ?? 502, backendResponse.headers);
      backendResponse.pipe(res);
    },
  );
  upstream.on('error', error =>
    sendStatus(
      res,
      failureStatus(503, `error trying to reach service: ${error.message}`),
    ),
  );
  req.pipe(upstream);
}
