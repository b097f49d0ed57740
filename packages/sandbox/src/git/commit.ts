import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitHost } from './host';
import { GitPerson, GitRepository, ZERO_SHA } from './repository';

/** Path → new content, or null to delete the file. */
export type FileEdits = Record<string, string | Buffer | null>;

export interface CommitOptions {
  /** The committer; defaults to the author. */
  committer?: GitPerson;
  /** Author and commit date; defaults to the current time. */
  date?: Date;
  /**
   * Where a branch that does not exist yet starts (a revision); without it a new
   * branch starts from nothing (a root commit).
   */
  startPoint?: string;
  /** Reported as the pusher to ref listeners (who "pushed" this commit). */
  pusher?: string;
}

/** Rejects paths git would store oddly or that escape the tree. */
export function assertRepositoryPath(path: string): void {
  const segments = path.split('/');
  if (
    path.length === 0 ||
    segments.some(s => s === '' || s === '.' || s === '..' || s === '.git') ||
    path.includes('\0')
  ) {
    throw new Error(`Invalid file path "${path}"`);
  }
}

function dateEnvironment(date: Date): string {
  return `@${Math.floor(date.getTime() / 1000)} +0000`;
}

function identityEnvironment(
  author: GitPerson,
  committer: GitPerson,
  date: Date,
): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_AUTHOR_DATE: dateEnvironment(date),
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
    GIT_COMMITTER_DATE: dateEnvironment(date),
  };
}

async function withTemporaryIndex<T>(
  operation: (indexFile: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-git-index-'));
  try {
    return await operation(join(dir, 'index'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes a commit whose tree is built by `fillIndex` on top of `parent`'s tree and moves
 * `branch` to it, refusing if the branch moved meanwhile.
 */
async function writeCommit(
  repository: GitRepository,
  branch: string,
  message: string,
  author: GitPerson,
  options: CommitOptions,
  fillIndex: (env: Record<string, string>) => Promise<void>,
): Promise<string> {
  const ref = `refs/heads/${branch}`;
  const current = await repository.resolveCommit(ref);
  const parent =
    current ??
    (options.startPoint
      ? await repository.resolveCommit(options.startPoint)
      : undefined);
  if (options.startPoint && !current && !parent) {
    throw new Error(`Unknown start point "${options.startPoint}"`);
  }
  const date = options.date ?? new Date();
  return withTemporaryIndex(async indexFile => {
    const env = { GIT_INDEX_FILE: indexFile };
    await repository.git(
      parent ? ['read-tree', parent] : ['read-tree', '--empty'],
      { env },
    );
    await fillIndex(env);
    const tree = (await repository.git(['write-tree'], { env }))
      .toString()
      .trim();
    const commitMessage = message.endsWith('\n') ? message : `${message}\n`;
    const sha = (
      await repository.git(
        ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'],
        {
          env: identityEnvironment(author, options.committer ?? author, date),
          input: commitMessage,
        },
      )
    )
      .toString()
      .trim();
    await repository.git(['update-ref', ref, sha, current ?? ZERO_SHA]);
    return sha;
  });
}

/**
 * Commits file edits to a branch of a bare repository (creating the branch if needed)
 * and returns the new commit's sha. Ref listeners see it exactly like a push.
 */
export async function commitFiles(
  repository: GitRepository,
  branch: string,
  files: FileEdits,
  message: string,
  author: GitPerson,
  options: CommitOptions = {},
): Promise<string> {
  Object.keys(files).forEach(assertRepositoryPath);
  return repository.updateRefs(options.pusher, () =>
    writeCommit(repository, branch, message, author, options, async env => {
      const entries = await Promise.all(
        Object.entries(files).map(async ([path, content]) => {
          if (content === null) {
            return `0 ${ZERO_SHA}\t${path}\n`;
          }
          const blob = await repository.git(['hash-object', '-w', '--stdin'], {
            input: content,
          });
          return `100644 ${blob.toString().trim()}\t${path}\n`;
        }),
      );
      await repository.git(['update-index', '--index-info'], {
        env,
        input: entries.join(''),
      });
    }),
  );
}

/**
 * Commits the whole content of a directory on disk (replacing the branch's tree; files
 * ignored by a `.gitignore` there are left out) and returns the new commit's sha.
 */
export function commitDirectory(
  repository: GitRepository,
  branch: string,
  directory: string,
  message: string,
  author: GitPerson,
  options: CommitOptions = {},
): Promise<string> {
  return repository.updateRefs(options.pusher, () =>
    writeCommit(repository, branch, message, author, options, async env => {
      await repository.git(['read-tree', '--empty'], { env });
      await repository.git(
        ['--work-tree', directory, 'add', '--all', '--', '.'],
        {
          env,
          cwd: directory,
        },
      );
    }),
  );
}

/**
 * `git init --bare` at `relativePath` under the host, then commits a directory's content
 * as its first commit on the default branch (`main` unless told otherwise).
 */
export async function createRepositoryFromDirectory(
  host: GitHost,
  relativePath: string,
  directory: string,
  author: GitPerson,
  options: { message?: string; defaultBranch?: string; date?: Date } = {},
): Promise<{ repository: GitRepository; sha: string }> {
  const branch = options.defaultBranch ?? 'main';
  const repository = await host.createRepository(relativePath, {
    defaultBranch: branch,
  });
  const sha = await commitDirectory(
    repository,
    branch,
    directory,
    options.message ?? 'Initial commit',
    author,
    { date: options.date },
  );
  return { repository, sha };
}
