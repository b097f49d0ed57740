import http, { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  SELF_SUBJECT_ACCESS_REVIEW_PATH,
  selfSubjectAccessReview,
} from './accessReview';
import { TokenAuthorizer, type TokenGrant, type Verb } from './authorization';
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
} from './discovery';
import { notFound } from './errors';
import { createFaultInjector, type KubeApiFaults } from './faults';
import {
  ResourceContext,
  sendError,
  sendJson,
  serveCreate,
  serveDelete,
  serveDeleteCollection,
  serveGet,
  serveList,
  servePatch,
  serveReplace,
  StatusError,
} from './handlers';
import { loadResourceTypes, type ResourceTypeOptions } from './resourceTypes';
import {
  authorizationNamespace,
  resolveRoute,
  resolveServiceProxy,
  verbFor,
  type ResourceRoute,
} from './routing';
import {
  parseServiceReference,
  proxyToHandler,
  proxyToUrl,
  type ServiceHandler,
} from './serviceProxy';
import { failureStatus } from './status';
import { createClusterStore, type KubeClusterStore } from './store';
import {
  certificateAuthorityData,
  generateKubeTls,
  type KubeTlsMaterial,
} from './tls';
import { WatchRegistry } from './watchStream';

export interface KubeApiServerOptions {
  /** The cluster's store; when absent one is created from the options below. */
  store?: KubeClusterStore;
  clusterName?: string;
  /** Which versions/kinds the created store serves (e.g. `{ sourceVersions: ['v1'] }` for Flux 2.8+). */
  resourceTypes?: ResourceTypeOptions;
  /** Watch history of the created store (default 1000 events). */
  historyLimit?: number;
  /** Bookmark interval of the created store (default 60 s). */
  bookmarkIntervalMs?: number;
  /** Default: an ephemeral port on 127.0.0.1. */
  port?: number;
  /** Bearer tokens and their RBAC rules; more can be added at runtime. */
  tokens?: Record<string, TokenGrant>;
  /** Default 3 MiB, as the real API server. */
  maxRequestBodyBytes?: number;
  /** Reported by `/version`. Default v1.36.3, the real world's (testworld/kubernetes). */
  kubernetesVersion?: string;
  /** How long a watch without `timeoutSeconds` stays open. Default 1800 s. */
  watchTimeoutSeconds?: number;
  /**
   * Serve HTTPS, as real clusters do: `true` makes a throwaway cluster CA and a
   * certificate for 127.0.0.1 (needs the `openssl` CLI); or bring your own PEM material.
   */
  tls?: boolean | KubeTlsMaterial;
}

export interface KubeApiServer {
  readonly url: string;
  readonly port: number;
  readonly store: KubeClusterStore;
  readonly faults: KubeApiFaults;
  /** With TLS: the cluster CA as a kubeconfig's `certificate-authority-data` (base64 PEM). */
  readonly caData?: string;
  addToken(token: string, grant: TokenGrant): void;
  removeToken(token: string): void;
  /**
   * Authenticated requests served so far, per user (watches count once, when opened):
   * what a benchmark reads to count the calls a client made.
   */
  requestsBy(user: string): number;
  /** The backend of a Service for `/api/v1/namespaces/{ns}/services/{svc}/proxy/...`: a handler or a URL. */
  registerServiceHandler(
    namespace: string,
    name: string,
    target: ServiceHandler | string,
  ): void;
  unregisterServiceHandler(namespace: string, name: string): void;
  stop(): Promise<void>;
}

const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz']);

function delay(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** A simulated Kubernetes API server for one cluster, over HTTP or HTTPS on 127.0.0.1. */
export async function startKubeApiServer(
  options: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  // First, so a missing openssl fails before anything needs cleaning up.
  const tls =
    options.tls === true ? await generateKubeTls() : options.tls || undefined;
  const scheme = tls ? 'https' : 'http';
  const ownsStore = options.store === undefined;
  const store =
    options.store ??
    createClusterStore({
      clusterName: options.clusterName ?? 'sandbox',
      types: await loadResourceTypes(options.resourceTypes),
      historyLimit: options.historyLimit,
      bookmarkIntervalMs: options.bookmarkIntervalMs,
    });
  const authorizer = new TokenAuthorizer(options.tokens);
  const watches = new WatchRegistry();
  const serviceBackends = new Map<string, ServiceHandler | string>();
  const maxBodyBytes = options.maxRequestBodyBytes ?? 3 * 1024 * 1024;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 1800;
  const gitVersion = options.kubernetesVersion ?? 'v1.36.3';
  const sockets = new Set<Socket>();
  let listening = false;
  let port = options.port ?? 0;

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(error => sendError(res, error));
  };
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key }, listener)
    : http.createServer(listener);
  // Raw TCP sockets, so that going down also resets connections mid-handshake.
  server.on('connection', socket => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const faults = createFaultInjector({
    isListening: () => listening,
    openWatchCount: () => watches.count(),
    endAllWatches: () => watches.endAll(),
    setListening: async up => {
      if (up === listening) return;
      if (up) {
        await listen(port);
      } else {
        listening = false;
        const closed = new Promise<void>(resolve =>
          server.close(() => resolve()),
        );
        sockets.forEach(socket => socket.destroy());
        await closed;
      }
    },
  });

  function listen(requestedPort: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, '127.0.0.1', () => {
        server.off('error', reject);
        listening = true;
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  const requestCounts = new Map<string, number>();

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const latency = faults.latencyMs();
    if (latency > 0) await delay(latency);

    if (PUBLIC_PATHS.has(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path === '/version') {
      sendJson(res, 200, versionInfo(gitVersion));
      return;
    }
    const grant = authorizer.authenticate(req.headers.authorization);
    if (!grant) {
      sendJson(res, 401, failureStatus(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    requestCounts.set(grant.user, (requestCounts.get(grant.user) ?? 0) + 1);
    const injected = faults.takeFailure();
    if (injected !== undefined) throw new StatusError(failureStatus(injected));
    if (path === SELF_SUBJECT_ACCESS_REVIEW_PATH && req.method === 'POST') {
      sendJson(
        res,
        201,
        await selfSubjectAccessReview(req, grant, maxBodyBytes),
      );
      return;
    }

    const types = store.types();
    const proxy = resolveServiceProxy(req.url ?? '/', types);
    if (proxy) {
      serveServiceProxy(req, res, grant, proxy.route, proxy.forwardPath);
      return;
    }

    const route = resolveRoute(path, types);
    switch (route.kind) {
      case 'discovery':
        sendJson(
          res,
          200,
          route.path === 'api'
            ? apiVersions(types, `127.0.0.1:${port}`)
            : apiGroupList(types),
        );
        return;
      case 'group': {
        const group = apiGroup(types, route.group);
        if (!group) throw new StatusError(failureStatus(404));
        sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
        return;
      }
      case 'groupVersion': {
        const list = apiResourceList(types, route.group, route.version);
        if (!list) throw new StatusError(failureStatus(404));
        sendJson(res, 200, list);
        return;
      }
      case 'notFound':
        throw new StatusError(failureStatus(404));
      default:
        await serveResource(req, res, url, grant, route);
    }
  }

  async function serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    grant: TokenGrant,
    route: ResourceRoute,
  ): Promise<void> {
    const watchParam = url.searchParams.get('watch');
    const watch = watchParam === 'true' || watchParam === '1';
    const method = req.method ?? 'GET';
    const verb = verbFor(method, route, watch);
    if (!verb) {
      throw new StatusError(
        failureStatus(
          405,
          `the server does not allow this method on the requested resource`,
        ),
      );
    }
    const authorize = (checked: Verb) =>
      authorizer.authorize(grant, {
        verb: checked,
        group: route.type.group,
        resource: route.type.plural,
        subresource: route.subresource,
        namespace: authorizationNamespace(route),
        name: route.name,
      });
    authorize(verb);
    const ctx: ResourceContext = {
      store,
      route,
      query: url.searchParams,
      req,
      res,
      maxBodyBytes,
      authorize,
    };
    switch (verb) {
      case 'get':
        if (route.subresource !== undefined && route.subresource !== 'status') {
          throw new StatusError(failureStatus(404));
        }
        if (route.subresource === 'status' && !route.type.statusSubresource) {
          throw new StatusError(failureStatus(404));
        }
        serveGet(ctx);
        return;
      case 'list':
        serveList(ctx);
        return;
      case 'watch':
        watches.serve(ctx, watchTimeoutSeconds);
        return;
      case 'create':
        await serveCreate(ctx);
        return;
      case 'update':
        await serveReplace(ctx);
        return;
      case 'patch':
        await servePatch(ctx);
        return;
      case 'delete':
        await serveDelete(ctx);
        return;
      default:
        await serveDeleteCollection(ctx);
    }
  }

  function proxyVerb(method: string) {
    switch (method) {
      case 'POST':
        return 'create' as const;
      case 'PUT':
        return 'update' as const;
      case 'PATCH':
        return 'patch' as const;
      case 'DELETE':
        return 'delete' as const;
      default:
        return 'get' as const;
    }
  }

  function serveServiceProxy(
    req: IncomingMessage,
    res: ServerResponse,
    grant: TokenGrant,
    route: ResourceRoute,
    forwardPath: string,
  ): void {
    authorizer.authorize(grant, {
      verb: proxyVerb(req.method ?? 'GET'),
      group: '',
      resource: 'services',
      subresource: 'proxy',
      namespace: route.namespace,
      name: route.name,
    });
    const reference = parseServiceReference(route.name!);
    const service = store.get(
      { apiVersion: 'v1', kind: 'Service' },
      route.namespace,
      reference.name,
    );
    if (!service) throw notFound(route.type, reference.name);
    const ports =
      (service.spec as { ports?: Array<{ port?: number; name?: string }> })
        ?.ports ?? [];
    if (
      reference.port &&
      !ports.some(
        p => String(p.port) === reference.port || p.name === reference.port,
      )
    ) {
      throw new StatusError(
        failureStatus(
          503,
          `no service port "${reference.port}" found for service "${reference.name}"`,
        ),
      );
    }
    const backend = serviceBackends.get(`${route.namespace}/${reference.name}`);
    if (!backend) {
      throw new StatusError(
        failureStatus(
          503,
          `no endpoints available for service "${reference.name}"`,
        ),
      );
    }
    if (typeof backend === 'string') proxyToUrl(backend, req, res, forwardPath);
    else proxyToHandler(backend, req, res, forwardPath);
  }

  await listen(port);

  return {
    get url() {
      return `${scheme}://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    store,
    faults: faults.api,
    caData: tls && certificateAuthorityData(tls.ca),
    addToken: (token, grant) => authorizer.addToken(token, grant),
    removeToken: token => authorizer.removeToken(token),
    requestsBy: user => requestCounts.get(user) ?? 0,
    registerServiceHandler(namespace, name, target) {
      serviceBackends.set(`${namespace}/${name}`, target);
    },
    unregisterServiceHandler(namespace, name) {
      serviceBackends.delete(`${namespace}/${name}`);
    },
    async stop() {
      watches.endAll();
      if (listening) {
        listening = false;
        const closed = new Promise<void>(resolve =>
          server.close(() => resolve()),
        );
        sockets.forEach(socket => socket.destroy());
        await closed;
      }
      if (ownsStore) store.close();
    },
  };
}
