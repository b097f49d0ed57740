import { rbacNamespace, type Verb } from './authorization';
import type { ResourceType } from './types';

/** A request for a resource, its collection or one of its subresources. */
export interface ResourceRoute {
  kind: 'resource';
  group: string;
  version: string;
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export type Route =
  | { kind: 'discovery'; path: 'api' | 'apis' }
  | { kind: 'groupVersion'; group: string; version: string }
  | { kind: 'group'; group: string }
  | ResourceRoute
  | { kind: 'notFound' };

function findType(
  types: ResourceType[],
  group: string,
  version: string,
  plural: string,
) {
  return types.find(
    t => t.group === group && t.version === version && t.plural === plural,
  );
}

/** Resolves `/api/...` and `/apis/...` paths the way the API server's RequestInfo does. */
export function resolveRoute(pathname: string, types: ResourceType[]): Route {
  let segments: string[];
  try {
    segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { kind: 'notFound' };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api') {
    if (segments.length === 1) return { kind: 'discovery', path: 'api' };
    [group, version, rest] = ['', segments[1], segments.slice(2)];
  } else if (segments[0] === 'apis') {
    if (segments.length === 1) return { kind: 'discovery', path: 'apis' };
    if (segments.length === 2) return { kind: 'group', group: segments[1] };
    [group, version, rest] = [segments[1], segments[2], segments.slice(3)];
  } else {
    return { kind: 'notFound' };
  }
  if (rest.length === 0) return { kind: 'groupVersion', group, version };

  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const type = findType(types, group, version, rest[2]);
    if (type?.namespaced && rest.length <= 5) {
      return {
        kind: 'resource',
        group,
        version,
        type,
        namespace: rest[1],
        name: rest[3],
        subresource: rest[4],
      };
    }
    // `/namespaces/{name}/{subresource}` addresses the Namespace itself.
  }
  const type = findType(types, group, version, rest[0]);
  if (!type || rest.length > 3) return { kind: 'notFound' };
  if (type.namespaced && rest.length > 1) return { kind: 'notFound' };
  return {
    kind: 'resource',
    group,
    version,
    type,
    name: rest[1],
    subresource: rest[2],
  };
}

/** The RBAC verb of a resource request; undefined when the method is not allowed there. */
export function verbFor(
  method: string,
  route: ResourceRoute,
  watch: boolean,
): Verb | undefined {
  const named = route.name !== undefined;
  // Across all namespaces, a namespaced collection only serves list and watch.
  const acrossNamespaces =
    route.type.namespaced && route.namespace === undefined;
  if (acrossNamespaces && method !== 'GET' && method !== 'HEAD')
    return undefined;
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (named) return 'get';
      return watch ? 'watch' : 'list';
    case 'POST':
      return named ? undefined : 'create';
    case 'PUT':
      return named ? 'update' : undefined;
    case 'PATCH':
      return named ? 'patch' : undefined;
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

/** The namespace RBAC sees: for a Namespace itself, its own name (as RequestInfo has it). */
export function authorizationNamespace(
  route: ResourceRoute,
): string | undefined {
  return rbacNamespace(route.type, route.namespace, route.name);
}

/** The path after `/proxy` of a service proxy URL, kept raw (not decoded), plus the query. */
export function proxyForwardPath(rawUrl: string): string | undefined {
  const match =
    /^\/api\/v1\/namespaces\/[^/]+\/services\/[^/]+\/proxy(\/[^?]*)?(\?.*)?$/.exec(
      rawUrl,
    );
  if (!match) return undefined;
  return `${match[1] ?? '/'}${match[2] ?? ''}`;
}

/** `/api/v1/namespaces/{ns}/services/{ref}/proxy/...` → the route of the proxy itself. */
export function resolveServiceProxy(
  rawUrl: string,
  types: ResourceType[],
): { route: ResourceRoute; forwardPath: string } | undefined {
  const forwardPath = proxyForwardPath(rawUrl);
  if (forwardPath === undefined) return undefined;
  const type = types.find(t => t.group === '' && t.kind === 'Service');
  if (!type) return undefined;
  // ['', 'api', 'v1', 'namespaces', ns, 'services', reference, 'proxy', ...]
  const segments = rawUrl
    .split('?')[0]
    .split('/')
    .map(s => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const [namespace, reference] = [segments[4], segments[6]];
  return {
    route: {
      kind: 'resource',
      group: '',
      version: 'v1',
      type,
      namespace,
      name: reference,
      subresource: 'proxy',
    },
    forwardPath,
  };
}
