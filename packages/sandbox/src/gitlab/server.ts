import {
  createServer,
  IncomingMessage,
  ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { GitHost, parseGitHttpRequest } from '../git';
import { GitLabAdmin } from './admin';
import { ApiError, ApiResult, Input, RequestContext, Router } from './api';
import { apiTokenOf, authenticateApi, requireScope } from './auth';
import { Clock } from './clock';
import type { GitLab } from './context';
import { Fault, Faults } from './faults';
import { serveGit } from './git-http';
import { createUser } from './operations';
import { processRefsUpdate, PushListener } from './push-events';
import { applicationRoutes } from './routes/applications';
import { hookRoutes } from './routes/hooks';
import { metaRoutes } from './routes/meta';
import { oauthRoutes } from './routes/oauth';
import { projectRoutes } from './routes/projects';
import { repositoryRoutes } from './routes/repository';
import { deployRoutes } from './routes/deploy';
import { statusRoutes } from './routes/statuses';
import { tokenRoutes } from './routes/tokens';
import { GitLabState } from './state';
import { Webhooks } from './webhooks';

export interface GitLabOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where the bare repositories live; a temporary directory (removed on stop) by default. */
  dataDir?: string;
  /** The GitLab version the instance claims to be. */
  version?: string;
}

export interface RunningGitLab {
  /**
   * `http://127.0.0.1:<port>`: the API is under `/api/v4`, repositories at `/<path>.git`,
   * the OAuth 2.0 provider under `/oauth`.
   */
  url: string;
  api: GitLabAdmin;
  /** How many HTTP requests (API, OAuth and Git) reached the server so far. */
  requestsServed(): number;
  /**
   * The requests from the `since`-th on (`requestsServed()` taken earlier), as method and
   * path: what a test reads to show that nothing was sent. The last 1,000 are kept.
   */
  requestsSince(since: number): JournalEntry[];
  stop(): Promise<void>;
}

/** A request as the journal keeps it; `user` is who an API token authenticated. */
export interface JournalEntry {
  method: string;
  path: string;
  user?: string;
}

export const DEFAULT_GITLAB_VERSION = '18.4.1';

/** Request bodies above this are refused (the API only takes small JSON documents). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

const API_PREFIX = '/api/v4/';
const JOURNAL_SIZE = 1000;
const OAUTH_PREFIX = '/oauth/';

function buildRouter(gitlab: GitLab): Router {
  const router = new Router();
  metaRoutes(router, gitlab);
  projectRoutes(router, gitlab);
  repositoryRoutes(router, gitlab);
  hookRoutes(router, gitlab);
  deployRoutes(router, gitlab);
  tokenRoutes(router, gitlab);
  statusRoutes(router, gitlab);
  applicationRoutes(router, gitlab);
  return router;
}

/** The OAuth 2.0 provider's routes, relative to `/oauth/`. */
function buildOAuthRouter(gitlab: GitLab): Router {
  const router = new Router();
  oauthRoutes(router, gitlab);
  return router;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError(413, { message: '413 Request Entity Too Large' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** `a=1&scopes[]=x&scopes[]=y` → `{a: '1', scopes: ['x', 'y']}`. */
function formToInput(params: URLSearchParams): Input {
  const input: Input = {};
  for (const [key, value] of params) {
    if (key.endsWith('[]')) {
      const name = key.slice(0, -2);
      input[name] = [...((input[name] as string[] | undefined) ?? []), value];
    } else {
      input[key] = value;
    }
  }
  return input;
}

/** Query parameters merged with the body (JSON or form), as Grape sees them. */
async function readInput(req: IncomingMessage, url: URL): Promise<Input> {
  const input = formToInput(url.searchParams);
  const body = await readBody(req);
  if (body.length === 0) {
    return input;
  }
  const contentType = (req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (contentType === 'application/x-www-form-urlencoded') {
    return {
      ...input,
      ...formToInput(new URLSearchParams(body.toString('utf8'))),
    };
  }
  if (contentType === 'application/json' || contentType === '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ApiError(400, {
        error:
          'The provided content-type is JSON but the body is not valid JSON',
      });
    }
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? { ...input, ...(parsed as Input) }
      : input;
  }
  return input;
}

function send(res: ServerResponse, result: ApiResult): void {
  const status = result.status ?? 200;
  if ('raw' in result) {
    res.writeHead(status, {
      'Content-Type': result.contentType,
      ...result.headers,
    });
    res.end(result.raw);
    return;
  }
  if (status === 204) {
    res.writeHead(204, result.headers);
    res.end();
    return;
  }
  res.writeHead(status, {
    'Content-Type': 'application/json',
    ...result.headers,
  });
  res.end(JSON.stringify(result.body));
}

function sendFault(
  res: ServerResponse,
  fault: Fault,
  kind: 'api' | 'git',
): void {
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) {
    headers['Retry-After'] = String(fault.retryAfterSeconds);
  }
  const reason = STATUS_CODES[fault.status] ?? 'Error';
  if (fault.status === 429) {
    // Rack::Attack's throttle answer.
    res.writeHead(429, { ...headers, 'Content-Type': 'text/plain' });
    res.end('Retry later\n');
  } else if (kind === 'api') {
    res.writeHead(fault.status, {
      ...headers,
      'Content-Type': 'application/json',
    });
    res.end(JSON.stringify({ message: `${fault.status} ${reason}` }));
  } else {
    res.writeHead(fault.status, { ...headers, 'Content-Type': 'text/plain' });
    res.end(`${reason}\n`);
  }
}

async function handleApi(
  gitlab: GitLab,
  router: Router,
  req: IncomingMessage,
  url: URL,
  entry: JournalEntry,
): Promise<ApiResult> {
  let segments: string[];
  try {
    segments = url.pathname
      .slice(API_PREFIX.length)
      .split('/')
      .map(decodeURIComponent);
  } catch {
    throw new ApiError(400, { error: '400 Bad Request' });
  }
  const match = router.match(req.method ?? 'GET', segments);
  if (!match) {
    throw new ApiError(404, { error: '404 Not Found' });
  }
  const { route, params } = match;
  const token = apiTokenOf(req, url);
  const caller =
    token !== undefined ? authenticateApi(gitlab, token) : undefined;
  if (!caller && !route.anonymous) {
    throw new ApiError(401, { message: '401 Unauthorized' });
  }
  if (caller) {
    entry.user = caller.user.username;
    requireScope(caller, [
      'api',
      ...(route.scopes ?? (req.method === 'GET' ? ['read_api'] : [])),
    ]);
  }
  const context: RequestContext = {
    req,
    params,
    input: await readInput(req, url),
    caller,
    url,
  };
  return route.handler(context);
}

/** `/oauth/…`: no API token; each route authenticates its client or token itself. */
async function handleOAuth(
  router: Router,
  req: IncomingMessage,
  url: URL,
): Promise<ApiResult> {
  const segments = url.pathname.slice(OAUTH_PREFIX.length).split('/');
  const match = router.match(req.method ?? 'GET', segments);
  if (!match) {
    throw new ApiError(404, { error: '404 Not Found' });
  }
  return match.route.handler({
    req,
    params: match.params,
    input: await readInput(req, url),
    url,
  });
}

/** Starts the simulated GitLab (REST API v4 and Git smart HTTP) on 127.0.0.1. */
export async function startGitLab(
  options: GitLabOptions = {},
): Promise<RunningGitLab> {
  const git = await GitHost.create(options.dataDir);
  const clock = new Clock();
  const version = options.version ?? DEFAULT_GITLAB_VERSION;
  let baseUrl = '';
  const gitlab: GitLab = {
    state: new GitLabState(),
    git,
    clock,
    version,
    webhooks: new Webhooks(clock, version, () => baseUrl),
    url: () => baseUrl,
  };
  const faults = new Faults();
  const pushListeners = new Set<PushListener>();
  const router = buildRouter(gitlab);
  const oauthRouter = buildOAuthRouter(gitlab);
  const unsubscribe = git.onRefsUpdated(update =>
    gitlab.webhooks.track(processRefsUpdate(gitlab, pushListeners, update)),
  );
  // Like a fresh GitLab installation: one administrator.
  createUser(gitlab, {
    username: 'root',
    name: 'Administrator',
    email: 'admin@example.com',
    admin: true,
  });

  const journal: JournalEntry[] = [];
  let served = 0;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    served += 1;
    const entry: JournalEntry = {
      method: req.method ?? 'GET',
      path: url.pathname,
    };
    journal.push(entry);
    if (journal.length > JOURNAL_SIZE) journal.shift();
    const oauth = url.pathname.startsWith(OAUTH_PREFIX);
    // The OAuth endpoints are web routes; injected failures treat them as the API.
    const kind = url.pathname.startsWith(API_PREFIX) || oauth ? 'api' : 'git';
    try {
      if (faults.latencyMs > 0) {
        await delay(faults.latencyMs);
      }
      const fault = faults.take(kind);
      if (fault) {
        req.resume();
        sendFault(res, fault, kind);
        return;
      }
      if (oauth) {
        send(res, await handleOAuth(oauthRouter, req, url));
        return;
      }
      if (kind === 'api') {
        send(res, await handleApi(gitlab, router, req, url, entry));
        return;
      }
      const gitRequest = parseGitHttpRequest(
        req.method ?? 'GET',
        url.pathname,
        url.searchParams,
      );
      if (gitRequest) {
        await serveGit(gitlab, req, res, gitRequest);
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not Found\n');
    } catch (error) {
      req.resume();
      if (res.headersSent) {
        res.destroy();
      } else if (error instanceof ApiError) {
        send(res, {
          status: error.status,
          body: error.body,
          headers: error.headers,
        });
      } else {
        send(res, {
          status: 500,
          body: { message: '500 Internal Server Error' },
        });
        process.emitWarning(`GitLab sandbox request failed: ${error}`);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    api: new GitLabAdmin(gitlab, faults, pushListeners),
    requestsServed: () => served,
    requestsSince: since =>
      journal.slice(Math.max(0, journal.length - (served - since))),
    async stop() {
      await new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await gitlab.webhooks.settled();
      unsubscribe();
      await git.dispose();
    },
  };
}
