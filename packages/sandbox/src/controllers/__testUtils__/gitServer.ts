import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gitEnvironment, runGit } from '../../git/run';

/** Serves `<root>/<name>.git` over Git smart HTTP through `git http-backend`. */
export interface TestGitServer {
  url: string;
  /** When set, requests need Basic auth with these credentials. */
  credentials?: { username: string; password: string };
  stop(): Promise<void>;
}

function serveCgi(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn('git', ['http-backend'], {
    env: gitEnvironment({
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_ADDR: '127.0.0.1',
    }),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => res.end());
}

export async function startGitServer(
  root: string,
  credentials?: { username: string; password: string },
): Promise<TestGitServer> {
  const server = createServer((req, res) => {
    if (credentials) {
      const expected = `Basic ${Buffer.from(
        `${credentials.username}:${credentials.password}`,
      ).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
        return;
      }
    }
    serveCgi(root, req, res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    credentials,
    stop: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A bare repository plus a working copy to commit from. */
export class TestRepository {
  private constructor(
    readonly bareDir: string,
    private readonly workDir: string,
  ) {}

  static async create(root: string, name: string): Promise<TestRepository> {
    const bareDir = join(root, `${name}.git`);
    const workDir = await mkdtemp(join(tmpdir(), 'controllers-work-'));
    await runGit(['init', '--quiet', '--bare', '-b', 'main', bareDir]);
    await runGit(['init', '--quiet', '-b', 'main', workDir]);
    await runGit(['remote', 'add', 'origin', bareDir], { cwd: workDir });
    return new TestRepository(bareDir, workDir);
  }

  /** Writes (or with `null` deletes) files, commits them and pushes the branch; returns the sha. */
  async commit(
    files: Record<string, string | null>,
    message: string,
    branch = 'main',
  ): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const target = join(this.workDir, path);
      if (content === null) {
        await rm(target, { force: true });
      } else {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, content);
      }
    }
    await runGit(['add', '-A'], { cwd: this.workDir });
    await runGit(
      [
        '-c',
        'user.name=Test',
        '-c',
        'user.email=test@example.com',
        'commit',
        '--quiet',
        '-m',
        message,
      ],
      { cwd: this.workDir },
    );
    await runGit(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], {
      cwd: this.workDir,
    });
    return (await runGit(['rev-parse', 'HEAD'], { cwd: this.workDir }))
      .toString()
      .trim();
  }

  async tag(name: string, annotated = false): Promise<void> {
    const args = annotated
      ? [
          '-c',
          'user.name=Test',
          '-c',
          'user.email=test@example.com',
          'tag',
          '-a',
          '-m',
          name,
          name,
        ]
      : ['tag', name];
    await runGit(args, { cwd: this.workDir });
    await runGit(['push', '--quiet', 'origin', `refs/tags/${name}`], {
      cwd: this.workDir,
    });
  }

  async dispose(): Promise<void> {
    await rm(this.workDir, { recursive: true, force: true });
  }
}
