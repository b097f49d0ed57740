import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { apiVersionOf } from './apiVersions';
import { isBuiltInGroup } from './discovery';
import { invalidObject, notFound } from './errors';
import {
  applyJsonPatch,
  applyStrategicMergePatch,
  isPlainObject,
  type JsonObject,
} from './patch';
import type { ResourceRoute } from './routing';
import { tableOf, wantsTable } from './table';
import type { Verb } from './authorization';
import { parseFieldSelector, parseLabelSelector } from './selectors';
import {
  failureStatus,
  statusFromError,
  successStatus,
  type KubeStatus,
} from './status';
import type { DeleteOptions, KubeClusterStore } from './store';
import { KubeObject, StoreError, TypeRef } from './types';

/** An error answered with a ready Status (413, 415 and the like, outside StoreError's reasons). */
export class StatusError extends Error {
  constructor(readonly status: KubeStatus) {
    super(status.message);
  }
}

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
): void {
  const payload = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, error: unknown): void {
  const status =
    error instanceof StatusError ? error.status : statusFromError(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status.code === 429) res.setHeader('Retry-After', '1');
  sendJson(res, status.code ?? 500, status);
}

function badRequest(message: string): StoreError {
  return new StoreError(400, 'BadRequest', message);
}

export async function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // An oversized body is still drained (not kept), so that the client reads the 413.
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) {
    throw new StatusError(
      failureStatus(
        413,
        `Request entity too large: limit is ${limit}`,
        'RequestEntityTooLarge',
      ),
    );
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(
      `couldn't get version/kind; json parse error: ${
        (error as Error).message
      }`,
    );
  }
}

export interface ResourceContext {
  store: KubeClusterStore;
  route: ResourceRoute;
  query: URLSearchParams;
  req: IncomingMessage;
  res: ServerResponse;
  maxBodyBytes: number;
  /** Checks one more verb on the route's resource (throws the 403). */
  authorize(verb: Verb): void;
}

function refOf(route: ResourceRoute): TypeRef {
  return { apiVersion: apiVersionOf(route.type), kind: route.type.kind };
}

function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const value of values) {
    if (value !== 'All') {
      throw new StoreError(
        422,
        'Invalid',
        `dryRun: Unsupported value: "${value}": supported values: "All"`,
      );
    }
  }
  return values.length > 0;
}

/** The manager of an Update: `?fieldManager`, else the User-Agent's product name, as the API server does. */
function updateManager(ctx: ResourceContext): string {
  const explicit = ctx.query.get('fieldManager');
  if (explicit) return explicit;
  const userAgent = ctx.req.headers['user-agent'];
  return userAgent ? userAgent.split('/')[0] : 'unknown';
}

/** Built-in lists carry no apiVersion/kind on their items; CRD lists do. */
function listBody(
  route: ResourceRoute,
  items: KubeObject[],
  metadata: JsonObject,
) {
  const builtIn = isBuiltInGroup(route.type.group);
  return {
    apiVersion: apiVersionOf(route.type),
    kind: `${route.type.kind}List`,
    metadata,
    items: builtIn
      ? items.map(({ apiVersion: _apiVersion, kind: _kind, ...item }) => item)
      : items,
  };
}

function objectKeyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

interface ContinueToken {
  rv: string;
  start: string;
}

function decodeContinue(token: string): ContinueToken {
  try {
    const decoded = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    );
    if (typeof decoded.rv === 'string' && typeof decoded.start === 'string')
      return decoded;
  } catch {
    // Falls through to the 400 below.
  }
  throw badRequest(
    'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
  );
}

export function serveList(ctx: ResourceContext): void {
  const { route, query } = ctx;
  const listed = ctx.store.list(refOf(route), {
    namespace: route.namespace,
    labelSelector: query.get('labelSelector') ?? undefined,
    fieldSelector: query.get('fieldSelector') ?? undefined,
  });
  let items = listed.items;
  let resourceVersion = listed.resourceVersion;
  const continueParam = query.get('continue');
  if (continueParam) {
    const token = decodeContinue(continueParam);
    items = items.filter(item => objectKeyOf(item) > token.start);
    resourceVersion = token.rv;
  }
  const limit = Number(query.get('limit') ?? 0);
  const metadata: JsonObject = { resourceVersion };
  if (limit > 0 && items.length > limit) {
    const remaining = items.length - limit;
    items = items.slice(0, limit);
    metadata.continue = Buffer.from(
      JSON.stringify({
        rv: resourceVersion,
        start: objectKeyOf(items[items.length - 1]),
      }),
    ).toString('base64url');
    metadata.remainingItemCount = remaining;
  }
  sendJson(
    ctx.res,
    200,
    wantsTable(ctx.req.headers.accept)
      ? tableOf(route.type, items, metadata)
      : listBody(route, items, metadata),
  );
}

export function serveGet(ctx: ResourceContext): void {
  const { route } = ctx;
  const object = ctx.store.get(refOf(route), route.namespace, route.name!);
  if (!object) throw notFound(route.type, route.name!);
  sendJson(
    ctx.res,
    200,
    wantsTable(ctx.req.headers.accept)
      ? tableOf(route.type, [object], {
          resourceVersion: object.metadata.resourceVersion,
        })
      : object,
  );
}

/**
 * Checks a request body against the URL the way the API server's decoding does: built-in
 * kinds may omit apiVersion/kind, custom resources may not; namespace and name must agree.
 */
function bodyObject(
  ctx: ResourceContext,
  body: unknown,
  requireTypeMeta: boolean,
): KubeObject {
  const { route } = ctx;
  if (!isPlainObject(body)) {
    throw badRequest(
      `the object provided is unrecognized (must be of type ${route.type.kind})`,
    );
  }
  const expectedApiVersion = apiVersionOf(route.type);
  const lenient = isBuiltInGroup(route.type.group) && !requireTypeMeta;
  for (const field of ['kind', 'apiVersion'] as const) {
    if (body[field] === undefined || body[field] === '') {
      if (!lenient)
        throw badRequest(
          `Object '${
            field === 'kind' ? 'Kind' : field
          }' is missing in '${JSON.stringify(body)}'`,
        );
      body[field] = field === 'kind' ? route.type.kind : expectedApiVersion;
    }
  }
  if (body.apiVersion !== expectedApiVersion) {
    throw badRequest(
      `the API version in the data (${String(
        body.apiVersion,
      )}) does not match the expected API version (${expectedApiVersion})`,
    );
  }
  if (body.kind !== route.type.kind) {
    throw badRequest(
      `the kind in the data (${String(
        body.kind,
      )}) does not match the expected kind (${route.type.kind})`,
    );
  }
  const metadata = isPlainObject(body.metadata) ? body.metadata : {};
  body.metadata = metadata;
  if (route.type.namespaced) {
    if (!metadata.namespace) metadata.namespace = route.namespace;
    else if (metadata.namespace !== route.namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
  }
  if (route.name !== undefined && metadata.name !== route.name) {
    throw badRequest(
      `the name of the object (${String(
        metadata.name ?? '',
      )}) does not match the name on the URL (${route.name})`,
    );
  }
  return body as KubeObject;
}

export async function serveCreate(ctx: ResourceContext): Promise<void> {
  const body = bodyObject(
    ctx,
    parseJson(await readBody(ctx.req, ctx.maxBodyBytes)),
    false,
  );
  const created = ctx.store.create(body, {
    fieldManager: updateManager(ctx),
    dryRun: isDryRun(ctx.query),
  });
  sendJson(ctx.res, 201, created);
}

function statusSubresource(route: ResourceRoute): 'status' | undefined {
  if (route.subresource === undefined) return undefined;
  if (route.subresource === 'status' && route.type.statusSubresource)
    return 'status';
  throw new StoreError(
    404,
    'NotFound',
    'the server could not find the requested resource',
  );
}

export async function serveReplace(ctx: ResourceContext): Promise<void> {
  const subresource = statusSubresource(ctx.route);
  const body = bodyObject(
    ctx,
    parseJson(await readBody(ctx.req, ctx.maxBodyBytes)),
    false,
  );
  // Custom resources do not allow unconditional updates; built-in kinds do.
  if (!isBuiltInGroup(ctx.route.type.group) && !body.metadata.resourceVersion) {
    throw invalidObject(
      ctx.route.type,
      body.metadata.name,
      'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.resourceVersion',
          message: 'Invalid value: 0x0: must be specified for an update',
        },
      ],
    );
  }
  const updated = ctx.store.update(body, {
    subresource,
    fieldManager: updateManager(ctx),
    dryRun: isDryRun(ctx.query),
  });
  sendJson(ctx.res, 200, updated);
}

const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

function unsupportedPatchType(route: ResourceRoute): StatusError {
  const accepted = [
    PATCH_TYPES.json,
    PATCH_TYPES.merge,
    ...(isBuiltInGroup(route.type.group) ? [PATCH_TYPES.strategic] : []),
    PATCH_TYPES.apply,
  ];
  return new StatusError(
    failureStatus(
      415,
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(
        ', ',
      )}`,
      'UnsupportedMediaType',
    ),
  );
}

export async function servePatch(ctx: ResourceContext): Promise<void> {
  const { route, store, query } = ctx;
  const subresource = statusSubresource(route);
  const contentType = (ctx.req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  const isApply = contentType === PATCH_TYPES.apply;
  const strategicAllowed = isBuiltInGroup(route.type.group);
  if (
    !isApply &&
    contentType !== PATCH_TYPES.merge &&
    contentType !== PATCH_TYPES.json &&
    !(contentType === PATCH_TYPES.strategic && strategicAllowed)
  ) {
    throw unsupportedPatchType(route);
  }
  const force = query.get('force');
  if (force !== null && !isApply) {
    throw badRequest(
      `force: Invalid value: "${force}": may not be specified for non-apply patch`,
    );
  }
  const dryRun = isDryRun(query);
  const raw = await readBody(ctx.req, ctx.maxBodyBytes);
  const ref = refOf(route);

  if (isApply) {
    const fieldManager = query.get('fieldManager');
    if (!fieldManager) {
      throw badRequest(
        'PATCH /apply requires fieldManager: fieldManager: Required value: is required for apply patch',
      );
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(raw.toString('utf8'));
    } catch (error) {
      throw badRequest(`error decoding YAML: ${(error as Error).message}`);
    }
    const config = bodyObject(ctx, parsed, true);
    const existed = store.get(ref, route.namespace, route.name!) !== undefined;
    // As the real API server: an apply that creates the object needs `create` too.
    if (!existed) ctx.authorize('create');
    const applied = store.apply(config, {
      fieldManager,
      force: force === 'true',
      subresource,
      dryRun,
    });
    sendJson(ctx.res, existed ? 200 : 201, applied);
    return;
  }

  const writeOptions = {
    subresource,
    fieldManager: updateManager(ctx),
    dryRun,
  };
  const patch = parseJson(raw);
  if (contentType === PATCH_TYPES.merge) {
    if (!isPlainObject(patch))
      throw badRequest(
        'json: cannot unmarshal into Go value of type map[string]interface {}',
      );
    sendJson(
      ctx.res,
      200,
      store.mergePatch(ref, route.namespace, route.name!, patch, writeOptions),
    );
    return;
  }
  const current = store.get(ref, route.namespace, route.name!);
  if (!current) throw notFound(route.type, route.name!);
  const patched =
    contentType === PATCH_TYPES.json
      ? applyJsonPatch(current, patch)
      : applyStrategicMergePatch(current, patch);
  if (!isPlainObject(patched))
    throw new StoreError(
      422,
      'Invalid',
      'the patch produced an object that is not a map',
    );
  sendJson(ctx.res, 200, store.update(patched as KubeObject, writeOptions));
}

async function deleteOptionsOf(ctx: ResourceContext): Promise<DeleteOptions> {
  const raw = await readBody(ctx.req, ctx.maxBodyBytes);
  const body = raw.length > 0 ? parseJson(raw) : {};
  const options = isPlainObject(body) ? body : {};
  const policy =
    ctx.query.get('propagationPolicy') ?? options.propagationPolicy;
  if (
    policy !== undefined &&
    policy !== 'Background' &&
    policy !== 'Foreground' &&
    policy !== 'Orphan'
  ) {
    throw new StoreError(
      422,
      'Invalid',
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${String(
        policy,
      )}": supported values: "Foreground", "Background", "Orphan", "nil"`,
    );
  }
  return {
    propagationPolicy: policy as DeleteOptions['propagationPolicy'],
    preconditions: isPlainObject(options.preconditions)
      ? (options.preconditions as DeleteOptions['preconditions'])
      : undefined,
    dryRun:
      isDryRun(ctx.query) ||
      (Array.isArray(options.dryRun) && options.dryRun.includes('All')),
  };
}

/**
 * Built-in registries answer an immediate deletion with a Success Status; custom resources,
 * and objects kept by finalizers, answer with the object.
 */
export async function serveDelete(ctx: ResourceContext): Promise<void> {
  const { route, store } = ctx;
  if (route.subresource !== undefined)
    throw new StoreError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const options = await deleteOptionsOf(ctx);
  const ref = refOf(route);
  const deleted = store.delete(ref, route.namespace, route.name!, options);
  const gone = store.get(ref, route.namespace, route.name!) === undefined;
  if (
    gone &&
    isBuiltInGroup(route.type.group) &&
    route.type.kind !== 'Namespace' &&
    !options.dryRun
  ) {
    sendJson(
      ctx.res,
      200,
      successStatus({
        name: deleted.metadata.name,
        group: route.type.group,
        kind: route.type.plural,
        uid: deleted.metadata.uid,
      }),
    );
    return;
  }
  sendJson(ctx.res, 200, deleted);
}

export async function serveDeleteCollection(
  ctx: ResourceContext,
): Promise<void> {
  const { route, store, query } = ctx;
  const options = await deleteOptionsOf(ctx);
  const ref = refOf(route);
  // Parse the selectors up front so a bad one is a 400 before anything is deleted.
  parseLabelSelector(query.get('labelSelector') ?? undefined);
  parseFieldSelector(query.get('fieldSelector') ?? undefined);
  const { items } = store.list(ref, {
    namespace: route.namespace,
    labelSelector: query.get('labelSelector') ?? undefined,
    fieldSelector: query.get('fieldSelector') ?? undefined,
  });
  // Garbage collection may take an item away while earlier ones are deleted.
  const deleted: KubeObject[] = [];
  for (const { metadata } of items) {
    if (store.get(ref, metadata.namespace, metadata.name) === undefined)
      continue;
    deleted.push(store.delete(ref, metadata.namespace, metadata.name, options));
  }
  sendJson(
    ctx.res,
    200,
    listBody(route, deleted, {
      resourceVersion: store.currentResourceVersion(),
    }),
  );
}
