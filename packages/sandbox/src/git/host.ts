import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitRepository, RefsUpdate } from './repository';
import { runGit } from './run';

export type RefsUpdateListener = (update: RefsUpdate) => void;

/** `group/sub/app.git`: path segments git and URLs both handle without escaping. */
const REPOSITORY_PATH =
  /^([A-Za-z0-9_][A-Za-z0-9_.-]*\/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.git$/;

export function assertRepositoryRelativePath(relativePath: string): void {
  if (
    !REPOSITORY_PATH.test(relativePath) ||
    relativePath.split('/').includes('..')
  ) {
    throw new Error(`Invalid repository path "${relativePath}"`);
  }
}

export interface CreateRepositoryOptions {
  /** The branch HEAD points at; `main` by default. */
  defaultBranch?: string;
}

/**
 * A directory of bare repositories (what `GIT_PROJECT_ROOT` points at) and the single
 * place that tells listeners about ref updates, whatever caused them.
 */
export class GitHost {
  readonly #repositories = new Map<string, GitRepository>();
  readonly #listeners = new Set<RefsUpdateListener>();

  private constructor(
    /** The directory holding every repository. */
    readonly root: string,
    private readonly ownsRoot: boolean,
  ) {}

  /** Uses `root` (created if missing) or, without it, a fresh temporary directory. */
  static async create(root?: string): Promise<GitHost> {
    if (root) {
      await mkdir(root, { recursive: true });
      return new GitHost(root, false);
    }
    return new GitHost(await mkdtemp(join(tmpdir(), 'sandbox-git-')), true);
  }

  /** `git init --bare` at the relative path (e.g. `group/app.git`). */
  async createRepository(
    relativePath: string,
    options: CreateRepositoryOptions = {},
  ): Promise<GitRepository> {
    assertRepositoryRelativePath(relativePath);
    const directory = join(this.root, relativePath);
    if (this.#repositories.has(relativePath) || (await exists(directory))) {
      throw new Error(`Repository ${relativePath} already exists`);
    }
    await mkdir(directory, { recursive: true });
    await runGit([
      'init',
      '--bare',
      '--quiet',
      `--initial-branch=${options.defaultBranch ?? 'main'}`,
      directory,
    ]);
    return this.track(relativePath);
  }

  /** A repository already on disk under the root, or undefined. */
  async openRepository(
    relativePath: string,
  ): Promise<GitRepository | undefined> {
    const known = this.#repositories.get(relativePath);
    if (known) {
      return known;
    }
    assertRepositoryRelativePath(relativePath);
    if (!(await exists(join(this.root, relativePath, 'HEAD')))) {
      return undefined;
    }
    return this.track(relativePath);
  }

  async removeRepository(relativePath: string): Promise<void> {
    assertRepositoryRelativePath(relativePath);
    this.#repositories.delete(relativePath);
    await rm(join(this.root, relativePath), { recursive: true, force: true });
  }

  /** Called after every ref update of any repository; returns an unsubscribe function. */
  onRefsUpdated(listener: RefsUpdateListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Deletes the root if this host created it as a temporary directory. */
  async dispose(): Promise<void> {
    this.#listeners.clear();
    if (this.ownsRoot) {
      await rm(this.root, { recursive: true, force: true });
    }
  }

  private track(relativePath: string): GitRepository {
    const repository = new GitRepository(this.root, relativePath, update => {
      for (const listener of this.#listeners) {
        // A failing listener must not fail the push or commit that triggered it.
        try {
          listener(update);
        } catch (error) {
          process.emitWarning(`Ref update listener failed: ${error}`);
        }
      }
    });
    this.#repositories.set(relativePath, repository);
    return repository;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
