import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { FLUX_NAMESPACE } from './cluster';
import { DEMO_PROJECT } from './demo';
import { SandboxWorld } from './world';
import { randomToken } from './secrets';

/** Thrown for a bad control request; answered with its status and message. */
class ControlError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

const SOURCE_KINDS = [
  'GitRepository',
  'OCIRepository',
  'Bucket',
  'HelmRepository',
] as const;
type SourceKind = (typeof SOURCE_KINDS)[number];

async function readJson(
  req: IncomingMessage,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new ControlError(413, 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ControlError(400, 'The body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ControlError(400, 'The body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function nonNegativeInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ControlError(400, `${field} must be a non-negative integer`);
  }
  return value;
}

function httpStatus(value: unknown, field: string): number {
  const status = nonNegativeInteger(value, field);
  if (status < 400 || status > 599)
    throw new ControlError(400, `${field} must be an HTTP error status`);
  return status;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value)
    throw new ControlError(400, `${field} must be a non-empty string`);
  return value;
}

/** `message: null` clears a fault; a string sets it. */
function optionalMessage(value: unknown, field: string): string | undefined {
  if (value === null) return undefined;
  return text(value, field);
}

/**
 * The sandbox's control API: fault injection and demo actions, for tests, e2e and people.
 * Every request needs `Authorization: Bearer <control token>` (in `.sandbox/world.json`).
 *
 * - `GET  /world`                             the world's description
 * - `POST /clusters/{name}/faults`            `{down?: bool, latencyMs?, failNext?: {count, code?},
 *                                              dropWatches?: true, reconcileDurationMs?,
 *                                              failSourceFetch?: {kind, namespace?, name, message|null},
 *                                              failApply?: {namespace?, name, message|null},
 *                                              receiverFailNext?: {count, status}}`
 * - `POST /gitlab/faults`                     `{failNext?: {count, status, retryAfterSeconds?, scope?}, latencyMs?}`
 * - `POST /registry/faults`                   `{failNext: {count, status}}`
 * - `POST /demo/commits`                      `{files: {path: content|null}, message, author?}` → `{sha}`:
 *                                              a push to team/delivery (hooks and CI fire)
 * - `GET  /gitlab/hook-deliveries`            every webhook delivery so far
 */
export async function startControlServer(options: {
  world: SandboxWorld;
  port?: number;
  describe: (control: { url: string; token: string }) => unknown;
}): Promise<{ url: string; token: string; stop(): Promise<void> }> {
  const { world } = options;
  const token = randomToken('sandbox-control');
  const expected = Buffer.from(`Bearer ${token}`);
  let url = '';

  async function route(req: IncomingMessage, res: ServerResponse) {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ControlError(
        401,
        'Missing or wrong control token (see .sandbox/world.json)',
      );
    }
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    const method = req.method ?? 'GET';
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };

    if (method === 'GET' && path === '/world') {
      return send(200, options.describe({ url, token }));
    }
    if (method === 'GET' && path === '/gitlab/hook-deliveries') {
      return send(200, world.gitlab.api.hookDeliveries());
    }
    const clusterFaults = /^\/clusters\/([^/]+)\/faults$/.exec(path);
    if (method === 'POST' && clusterFaults) {
      const cluster = world.clusters.get(decodeURIComponent(clusterFaults[1]));
      if (!cluster)
        throw new ControlError(404, `No cluster "${clusterFaults[1]}"`);
      const body = await readJson(req);
      if (body.down !== undefined) {
        if (typeof body.down !== 'boolean')
          throw new ControlError(400, 'down must be a boolean');
        await cluster.api.faults.setDown(body.down);
      }
      if (body.latencyMs !== undefined)
        cluster.api.faults.setLatency(
          nonNegativeInteger(body.latencyMs, 'latencyMs'),
        );
      if (body.failNext !== undefined) {
        const failNext = body.failNext as Record<string, unknown>;
        cluster.api.faults.failNext(
          nonNegativeInteger(failNext?.count, 'failNext.count'),
          failNext?.code === undefined
            ? 500
            : httpStatus(failNext.code, 'failNext.code'),
        );
      }
      if (body.dropWatches === true) cluster.api.faults.dropWatches();
      if (body.reconcileDurationMs !== undefined) {
        cluster.flux.faults.setReconcileDuration(
          nonNegativeInteger(body.reconcileDurationMs, 'reconcileDurationMs'),
        );
      }
      if (body.failSourceFetch !== undefined) {
        const fault = body.failSourceFetch as Record<string, unknown>;
        const kind = text(fault?.kind, 'failSourceFetch.kind');
        if (!SOURCE_KINDS.includes(kind as SourceKind)) {
          throw new ControlError(
            400,
            `failSourceFetch.kind must be one of ${SOURCE_KINDS.join(', ')}`,
          );
        }
        cluster.flux.faults.failSourceFetch(
          kind as SourceKind,
          fault?.namespace === undefined
            ? FLUX_NAMESPACE
            : text(fault.namespace, 'failSourceFetch.namespace'),
          text(fault?.name, 'failSourceFetch.name'),
          optionalMessage(fault?.message, 'failSourceFetch.message'),
        );
      }
      if (body.failApply !== undefined) {
        const fault = body.failApply as Record<string, unknown>;
        cluster.flux.faults.failApply(
          fault?.namespace === undefined
            ? FLUX_NAMESPACE
            : text(fault.namespace, 'failApply.namespace'),
          text(fault?.name, 'failApply.name'),
          optionalMessage(fault?.message, 'failApply.message'),
        );
      }
      if (body.receiverFailNext !== undefined) {
        const failNext = body.receiverFailNext as Record<string, unknown>;
        cluster.notification.faults.failNext(
          nonNegativeInteger(failNext?.count, 'receiverFailNext.count'),
          httpStatus(failNext?.status, 'receiverFailNext.status'),
        );
      }
      return send(200, {
        cluster: cluster.name,
        api: cluster.api.faults.describe(),
      });
    }
    if (method === 'POST' && path === '/gitlab/faults') {
      const body = await readJson(req);
      if (body.failNext !== undefined) {
        const failNext = body.failNext as Record<string, unknown>;
        world.gitlab.api.failNext(
          nonNegativeInteger(failNext?.count, 'failNext.count'),
          httpStatus(failNext?.status, 'failNext.status'),
          {
            retryAfterSeconds:
              failNext?.retryAfterSeconds === undefined
                ? undefined
                : nonNegativeInteger(
                    failNext.retryAfterSeconds,
                    'failNext.retryAfterSeconds',
                  ),
            scope: failNext?.scope as 'api' | 'git' | 'all' | undefined,
          },
        );
      }
      if (body.latencyMs !== undefined)
        world.gitlab.api.setLatency(
          nonNegativeInteger(body.latencyMs, 'latencyMs'),
        );
      return send(200, { ok: true });
    }
    if (method === 'POST' && path === '/registry/faults') {
      const body = await readJson(req);
      const failNext = body.failNext as Record<string, unknown>;
      world.registry.failNext(
        nonNegativeInteger(failNext?.count, 'failNext.count'),
        httpStatus(failNext?.status, 'failNext.status'),
      );
      return send(200, { ok: true });
    }
    if (method === 'POST' && path === '/demo/commits') {
      const body = await readJson(req);
      const files = body.files as Record<string, unknown>;
      if (
        !files ||
        typeof files !== 'object' ||
        Array.isArray(files) ||
        Object.keys(files).length === 0
      ) {
        throw new ControlError(
          400,
          'files must map at least one path to content (or null to delete)',
        );
      }
      for (const [file, content] of Object.entries(files)) {
        if (content !== null && typeof content !== 'string') {
          throw new ControlError(
            400,
            `files["${file}"] must be a string or null`,
          );
        }
      }
      const sha = await world.gitlab.api.commitFiles(DEMO_PROJECT, {
        files: files as Record<string, string | null>,
        message: text(body.message, 'message'),
        author:
          body.author === undefined ? 'guest' : text(body.author, 'author'),
      });
      return send(201, { sha });
    }
    throw new ControlError(404, `No control route ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch(error => {
      const status = error instanceof ControlError ? error.status : 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (error as Error).message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    token,
    stop: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}
