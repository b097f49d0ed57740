import { spawn } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { gitEnvironment } from '../../git/run';

/** HTTP(S) credentials, as Flux builds them from a GitRepository's Secret. */
export interface GitHttpAuth {
  username?: string;
  password?: string;
  bearerToken?: string;
  /** A PEM CA bundle file for HTTPS (the Secret's `ca.crt`). */
  caFile?: string;
}

/** A git failure phrased the way go-git (Flux's Git client) phrases it. */
export class GitClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitClientError';
  }
}

const PROXY_VARIABLES = [
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
];

function environment(auth: GitHttpAuth | undefined): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['credential.helper', ''],
    ['protocol.file.allow', 'never'],
  ];
  if (auth?.bearerToken) {
    config.push([
      'http.extraHeader',
      `Authorization: Bearer ${auth.bearerToken}`,
    ]);
  } else if (auth?.username || auth?.password) {
    const basic = Buffer.from(
      `${auth.username ?? ''}:${auth.password ?? ''}`,
    ).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
  }
  if (auth?.caFile) config.push(['http.sslCAInfo', auth.caFile]);
  // Credentials go through the environment, never the command line.
  const extra: Record<string, string> = {
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([key, value], index) => {
    extra[`GIT_CONFIG_KEY_${index}`] = key;
    extra[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  const env = gitEnvironment(extra);
  for (const variable of PROXY_VARIABLES) delete env[variable];
  return env;
}

interface RunResult {
  stdout: Buffer;
}

class GitProcessError extends Error {
  constructor(readonly stderr: string, readonly exitCode: number | null) {
    super(stderr.trim());
  }
}

function runGit(
  args: string[],
  options: {
    cwd?: string;
    auth?: GitHttpAuth;
    signal?: AbortSignal;
    timeoutMs?: number;
  },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: environment(options.auth),
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
      timeout: options.timeoutMs,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', chunk => stdout.push(chunk));
    child.stderr.on('data', chunk => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolvePromise({ stdout: Buffer.concat(stdout) });
      } else {
        const text = Buffer.concat(stderr).toString();
        reject(
          new GitProcessError(signal ? `killed by ${signal}` : text, code),
        );
      }
    });
  });
}

/** Translates git CLI failures into go-git's transport errors. */
function transportError(url: string, error: unknown): GitClientError {
  const text = error instanceof GitProcessError ? error.stderr : String(error);
  if (
    /terminal prompts disabled|Authentication failed|returned error: 401/i.test(
      text,
    )
  ) {
    return new GitClientError('authentication required');
  }
  if (/returned error: 403/.test(text)) {
    return new GitClientError('authorization failed');
  }
  if (
    /returned error: 404|repository .* not found|does not appear to be a git repository/i.test(
      text,
    )
  ) {
    return new GitClientError('repository not found');
  }
  if (
    /Failed to connect|Connection refused|Could not resolve host|Couldn't connect/i.test(
      text,
    )
  ) {
    const parsed = new URL(url);
    const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
    return new GitClientError(
      `Get "${url.replace(
        /\/$/,
        '',
      )}/info/refs?service=git-upload-pack": dial tcp ${
        parsed.hostname
      }:${port}: connect: connection refused`,
    );
  }
  if (/killed by SIGTERM/.test(text)) {
    return new GitClientError('context deadline exceeded');
  }
  const lines = text.trim().split('\n').filter(Boolean);
  return new GitClientError(
    (lines[lines.length - 1] ?? 'unknown error').replace(/^fatal: /, ''),
  );
}

export interface RemoteRefs {
  /** `refs/heads/main` → commit sha (tags are peeled to the commit they point at). */
  refs: Map<string, string>;
  /** What the remote's HEAD points at, when advertised. */
  head?: string;
}

/** `git ls-remote`: the refs the server advertises. */
export async function listRemoteRefs(
  url: string,
  auth: GitHttpAuth | undefined,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<RemoteRefs> {
  let output: RunResult;
  try {
    output = await runGit(['ls-remote', '--symref', url], { auth, ...options });
  } catch (error) {
    throw transportError(url, error);
  }
  const refs = new Map<string, string>();
  const peeled = new Map<string, string>();
  let head: string | undefined;
  for (const line of output.stdout.toString().split('\n')) {
    const symref = /^ref: (\S+)\tHEAD$/.exec(line);
    if (symref) {
      head = symref[1];
      continue;
    }
    const [sha, ref] = line.split('\t');
    if (!sha || !ref) continue;
    if (ref.endsWith('^{}')) peeled.set(ref.slice(0, -3), sha);
    else refs.set(ref, sha);
  }
  for (const [ref, sha] of peeled) refs.set(ref, sha);
  return { refs, head };
}

async function ensureCacheRepository(directory: string): Promise<void> {
  try {
    await stat(`${directory}/HEAD`);
  } catch {
    await mkdir(directory, { recursive: true });
    await runGit(['init', '--bare', '--quiet', directory], {});
  }
}

/**
 * Fetches refs from `url` into a bare cache repository (created when missing).
 * `depth` 1 gives Flux's shallow clone; leave it out to get full history.
 */
export async function fetchIntoCache(
  cacheDir: string,
  url: string,
  auth: GitHttpAuth | undefined,
  refspecs: string[],
  options: { depth?: number; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  await ensureCacheRepository(cacheDir);
  const args = ['fetch', '--quiet', '--no-tags', '--force'];
  if (options.depth) args.push(`--depth=${options.depth}`);
  args.push(url, ...refspecs);
  try {
    await runGit(args, {
      cwd: cacheDir,
      auth,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    throw transportError(url, error);
  }
}

export async function hasCommit(
  cacheDir: string,
  sha: string,
): Promise<boolean> {
  try {
    await runGit(['cat-file', '-e', `${sha}^{commit}`], { cwd: cacheDir });
    return true;
  } catch {
    return false;
  }
}

/** The full commit message. */
export async function commitMessage(
  cacheDir: string,
  sha: string,
): Promise<string> {
  const { stdout } = await runGit(['log', '-1', '--format=%B', sha], {
    cwd: cacheDir,
  });
  return stdout.toString().replace(/\n+$/, '');
}

/** go-git's `Commit.ShortMessage()`: the subject, cut at 50 characters. */
export function shortMessage(message: string): string {
  const subject = [...message.split('\n')[0]];
  return subject.length > 50
    ? `${subject.slice(0, 50).join('')}...`
    : subject.join('');
}

/** Writes the tree of a commit into `destination` (a checkout without `.git`). */
export async function exportCommit(
  cacheDir: string,
  sha: string,
  destination: string,
  signal?: AbortSignal,
): Promise<void> {
  await mkdir(destination, { recursive: true });
  const child = spawn('git', ['archive', '--format=tar', sha], {
    cwd: cacheDir,
    env: environment(undefined),
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
  });
  const stderr: Buffer[] = [];
  child.stderr.on('data', chunk => stderr.push(chunk));
  const exited = new Promise<void>((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', code =>
      code === 0
        ? resolvePromise()
        : reject(new GitClientError(Buffer.concat(stderr).toString().trim())),
    );
  });
  await Promise.all([
    pipeline(child.stdout, tar.extract({ cwd: destination })),
    exited,
  ]);
}
