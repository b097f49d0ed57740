import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClusterStore, type KubeClusterStore } from '../../kube/store';
import type { ResourceType } from '../../kube/types';

function servedType(
  apiVersion: string,
  kind: string,
  plural: string,
  options: { namespaced?: boolean; statusSubresource?: boolean } = {},
): ResourceType {
  const [group, version] = apiVersion.includes('/')
    ? apiVersion.split('/')
    : ['', apiVersion];
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: options.namespaced ?? true,
    statusSubresource: options.statusSubresource ?? true,
  };
}

/**
 * The kinds these tests touch, without schema validation: loadResourceTypes() imports the
 * ESM-only model packages dynamically, which jest cannot do without --experimental-vm-modules.
 */
const TEST_TYPES: ResourceType[] = [
  servedType('v1', 'Namespace', 'namespaces', { namespaced: false }),
  servedType('v1', 'Secret', 'secrets', { statusSubresource: false }),
  servedType('v1', 'Event', 'events', { statusSubresource: false }),
  servedType('source.toolkit.fluxcd.io/v1', 'GitRepository', 'gitrepositories'),
  servedType('source.toolkit.fluxcd.io/v1', 'OCIRepository', 'ocirepositories'),
  servedType(
    'kustomize.toolkit.fluxcd.io/v1',
    'Kustomization',
    'kustomizations',
  ),
  servedType('notification.toolkit.fluxcd.io/v1', 'Receiver', 'receivers'),
  servedType(
    'notification.toolkit.fluxcd.io/v1beta3',
    'Provider',
    'providers',
    { statusSubresource: false },
  ),
  servedType('notification.toolkit.fluxcd.io/v1beta3', 'Alert', 'alerts', {
    statusSubresource: false,
  }),
];

/** The real in-memory cluster store, serving the kinds above, with the given namespaces. */
export function createTestStore(
  namespaces: string[] = ['flux-system'],
): KubeClusterStore {
  const store = createClusterStore({ clusterName: 'test', types: TEST_TYPES });
  for (const name of namespaces) {
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  return store;
}

/** A Secret's `data`, base64-encoded as the API stores it. */
export function secretData(
  values: Record<string, string>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      Buffer.from(value).toString('base64'),
    ]),
  );
}

/** Polls until `probe` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  description: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${description}`);
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeHttpServer {
  url: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

/** A loopback HTTP server that records requests and answers with `respond`. */
export async function startFakeHttpServer(
  respond: (request: RecordedRequest, res: ServerResponse) => void,
): Promise<FakeHttpServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', chunk => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      respond(request, res);
    });
  });
  await new Promise<void>(resolve =>
    server.listen(0, '127.0.0.1', () => resolve()),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
