import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type RegistryAction = 'pull' | 'push';

export interface RegistryAccessRequest {
  username: string;
  password: string;
  /** The repository the request is about; absent for `/v2/` and `/v2/_catalog`. */
  repository?: string;
  action: RegistryAction;
}

/**
 * true lets the request through; false answers 403 DENIED (or 401 when no repository
 * is involved); 'unauthenticated' answers 401, as for unknown or revoked credentials.
 */
export type RegistryAuthorizer = (
  request: RegistryAccessRequest,
) => boolean | 'unauthenticated' | Promise<boolean | 'unauthenticated'>;

export interface RegistryProxy {
  port: number;
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

// The distribution API's routes; the repository name may itself contain slashes.
const REPOSITORY_ROUTE =
  /^\/v2\/(.+?)\/(?:manifests\/[^/]+|blobs\/uploads\/[^/]*|blobs\/[^/]+|tags\/list)$/;

const CODE_BY_STATUS: Record<number, string> = {
  400: 'UNSUPPORTED',
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  404: 'NAME_UNKNOWN',
  429: 'TOOMANYREQUESTS',
  503: 'UNAVAILABLE',
};

function sendRegistryError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  detail: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ errors: [{ code, message, detail }] });
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'docker-distribution-api-version': 'registry/2.0',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
}

function parseBasicAuth(
  header: string | undefined,
): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return {
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
  };
}

/**
 * The registry's public address: optional Basic auth and injected faults in front of
 * the docker-registry process, which itself runs without auth.
 */
export async function startRegistryProxy(
  backendPort: number,
  authorize?: RegistryAuthorizer,
  port = 0,
): Promise<RegistryProxy> {
  let pendingFaults: { remaining: number; status: number } | undefined;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (pendingFaults && pendingFaults.remaining > 0) {
      pendingFaults.remaining--;
      const { status } = pendingFaults;
      request.resume();
      sendRegistryError(
        response,
        status,
        CODE_BY_STATUS[status] ?? 'UNKNOWN',
        'injected fault',
        null,
      );
      return;
    }
    if (authorize && !(await authorized(request, response, authorize))) return;
    forward(request, response, backendPort);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(error => {
      request.resume();
      if (!response.headersSent) {
        sendRegistryError(
          response,
          500,
          'UNKNOWN',
          `proxy error: ${(error as Error).message}`,
          null,
        );
      } else {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    failNext(count, status) {
      pendingFaults = { remaining: count, status };
    },
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function authorized(
  request: IncomingMessage,
  response: ServerResponse,
  authorize: RegistryAuthorizer,
): Promise<boolean> {
  const path = new URL(request.url ?? '/', 'http://registry').pathname;
  const repository = REPOSITORY_ROUTE.exec(path)?.[1];
  const action: RegistryAction =
    request.method === 'GET' || request.method === 'HEAD' ? 'pull' : 'push';
  const scope = repository
    ? [{ Type: 'repository', Class: '', Name: repository, Action: action }]
    : null;
  const deny = (status: 401 | 403) => {
    request.resume();
    if (status === 401) {
      sendRegistryError(
        response,
        401,
        'UNAUTHORIZED',
        'authentication required',
        scope,
        {
          'www-authenticate': 'Basic realm="Registry"',
        },
      );
    } else {
      sendRegistryError(
        response,
        403,
        'DENIED',
        'requested access to the resource is denied',
        scope,
      );
    }
    return false;
  };
  const credentials = parseBasicAuth(request.headers.authorization);
  if (!credentials) return deny(401);
  const verdict = await authorize({ ...credentials, repository, action });
  if (verdict === true) return true;
  return deny(verdict === 'unauthenticated' || !repository ? 401 : 403);
}

function forward(
  request: IncomingMessage,
  response: ServerResponse,
  backendPort: number,
): void {
  const headers = { ...request.headers };
  delete headers.authorization;
  // The Host header stays the proxy's, so upload Locations the registry builds point back here.
  const upstream = httpRequest(
    {
      host: '127.0.0.1',
      port: backendPort,
      method: request.method,
      path: request.url,
      headers,
    },
    upstreamResponse => {
      response.writeHead(
        upstreamResponse.statusCode ?? 502,
        upstreamResponse.headers,
      );
      upstreamResponse.pipe(response);
    },
  );
  upstream.on('error', error => {
    if (!response.headersSent) {
      sendRegistryError(
        response,
        502,
        'UNAVAILABLE',
        `registry unreachable: ${error.message}`,
        null,
      );
    } else {
      response.destroy();
    }
  });
  // A client that goes away mid-transfer must not leave the upstream request hanging.
  response.on('close', () => {
    if (!response.writableFinished) upstream.destroy();
  });
  request.pipe(upstream);
}
