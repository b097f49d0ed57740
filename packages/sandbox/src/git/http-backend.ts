import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GitRepository } from './repository';
import { gitEnvironment } from './run';

export type GitService = 'git-upload-pack' | 'git-receive-pack';

/** The smart HTTP endpoints of a repository, relative to its URL. */
export type GitHttpEndpoint =
  | '/info/refs'
  | '/git-upload-pack'
  | '/git-receive-pack';

export interface GitHttpRequest {
  /** The repository path as written in the URL without a trailing `.git`, e.g. `group/app`. */
  repositoryPath: string;
  endpoint: GitHttpEndpoint;
  /** Fetch (`git-upload-pack`) or push (`git-receive-pack`). */
  service: GitService;
}

const SERVICES: readonly string[] = ['git-upload-pack', 'git-receive-pack'];

/**
 * Recognizes a Git smart HTTP request (`GET <repo>/info/refs?service=...` or
 * `POST <repo>/git-upload-pack|git-receive-pack`), with or without `.git` after the
 * repository path. Anything else (including the dumb protocol) gives undefined.
 */
export function parseGitHttpRequest(
  method: string,
  pathname: string,
  query: URLSearchParams,
): GitHttpRequest | undefined {
  const match =
    /^\/(.+?)(?:\.git)?(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/.exec(
      pathname,
    );
  if (!match) {
    return undefined;
  }
  const [, repositoryPath, endpoint] = match as unknown as [
    string,
    string,
    GitHttpEndpoint,
  ];
  if (endpoint === '/info/refs') {
    const service = query.get('service');
    if (method !== 'GET' || !service || !SERVICES.includes(service)) {
      return undefined;
    }
    return { repositoryPath, endpoint, service: service as GitService };
  }
  if (method !== 'POST') {
    return undefined;
  }
  return { repositoryPath, endpoint, service: endpoint.slice(1) as GitService };
}

export interface GitHttpBackendTarget {
  repository: GitRepository;
  endpoint: GitHttpEndpoint;
  /** The authenticated user; git http-backend only accepts pushes when it is set. */
  remoteUser?: string;
}

/**
 * Serves one smart HTTP request with `git http-backend` (CGI), streaming the request
 * body in (decompressing gzip bodies) and the response out. A push runs inside the
 * repository's `updateRefs`, so ref listeners hear about it before the response ends.
 */
export async function serveGitHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  target: GitHttpBackendTarget,
): Promise<void> {
  const run = () => runHttpBackend(req, res, target);
  try {
    if (target.endpoint === '/git-receive-pack') {
      await target.repository.updateRefs(target.remoteUser, run);
    } else {
      await run();
    }
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.write(`git http-backend failed: ${error}\n`);
    }
  }
  res.end();
}

function requestBody(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = createGunzip();
    req.pipe(gunzip);
    req.on('error', error => gunzip.destroy(error));
    return gunzip;
  }
  return req;
}

function runHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  target: GitHttpBackendTarget,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn('git', ['http-backend'], {
    env: gitEnvironment({
      GIT_PROJECT_ROOT: target.repository.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${target.repository.relativePath}${target.endpoint}`,
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: target.remoteUser || undefined,
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      HTTP_GIT_PROTOCOL: headerValue(req.headers['git-protocol']),
    }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: Buffer[] = [];
  child.stderr.on('data', chunk => stderr.push(chunk));

  const input = pipeline(requestBody(req), child.stdin).catch(error => {
    child.kill();
    throw error;
  });
  const output = writeCgiResponse(child.stdout, res);
  const exit = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', code =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `exit ${code}: ${Buffer.concat(stderr).toString().trim()}`,
            ),
          ),
    );
  });
  return Promise.all([input, output, exit]).then(() => undefined);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Copies a CGI response (headers, blank line, body) to the HTTP response, without ending it. */
function writeCgiResponse(
  stdout: Readable,
  res: ServerResponse,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let headersDone = false;
    stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        return;
      }
      headersDone = true;
      writeCgiHeaders(head.subarray(0, end).toString(), res);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) {
        res.write(rest);
      }
    });
    stdout.on('error', reject);
    stdout.on('end', () => {
      if (!headersDone) {
        reject(new Error('git http-backend sent no response headers'));
      } else {
        resolve();
      }
    });
  });
}

function writeCgiHeaders(block: string, res: ServerResponse): void {
  let status = 200;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') {
        status = Number.parseInt(value, 10);
      } else {
        res.setHeader(name, value);
      }
    }
  }
  res.statusCode = status;
}
