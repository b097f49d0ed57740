import { GitCommandError, runGit, RunGitOptions } from './run';

/** The object id git uses for "no object": a ref that does not exist before or after a push. */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface GitPerson {
  name: string;
  email: string;
}

export interface GitCommit {
  sha: string;
  parents: string[];
  tree: string;
  authorName: string;
  authorEmail: string;
  /** Strict ISO 8601 with the author's UTC offset, e.g. `2024-05-01T10:00:00+02:00`. */
  authoredDate: string;
  committerName: string;
  committerEmail: string;
  committedDate: string;
  /** The full message, as stored (usually ends with a newline). */
  message: string;
  /** The first line of the message. */
  title: string;
}

export interface FileChanges {
  added: string[];
  modified: string[];
  removed: string[];
}

export interface FileDiff {
  oldPath: string;
  newPath: string;
  /** Octal file modes as git prints them; `0` for a side where the file does not exist. */
  oldMode: string;
  newMode: string;
  newFile: boolean;
  deletedFile: boolean;
  renamedFile: boolean;
  /** The unified diff from its first hunk header on (no `diff --git` header lines). */
  patch: string;
}

export interface RefChange {
  /** Full ref name, e.g. `refs/heads/main` or `refs/tags/v1.0.0`. */
  ref: string;
  /** The object before the update, ZERO_SHA when the ref was created. */
  before: string;
  /** The object after the update, ZERO_SHA when the ref was deleted. */
  after: string;
}

/** What a ref-changing operation (a push or a programmatic commit) did to one repository. */
export interface RefsUpdate {
  repository: GitRepository;
  changes: RefChange[];
  /** Who pushed: the HTTP `REMOTE_USER`, or the actor a programmatic commit names. */
  pusher?: string;
}

export interface LogOptions {
  maxCount?: number;
  skip?: number;
  /** Only commits touching one of these paths. */
  paths?: string[];
  /** Oldest first instead of newest first. */
  reverse?: boolean;
  /** Only commits committed at or after / before this time. */
  since?: Date;
  until?: Date;
}

export interface CommitStats {
  additions: number;
  deletions: number;
  total: number;
}

const FIELD = '\x1f';
const RECORD = '\x1e';
const LOG_FORMAT = [
  '%H',
  '%P',
  '%T',
  '%an',
  '%ae',
  '%aI',
  '%cn',
  '%ce',
  '%cI',
  '%B',
]
  .join('%x1f')
  .concat('%x1e');

function parseCommits(output: string): GitCommit[] {
  return output
    .split(RECORD)
    .map(record => record.replace(/^\n/, ''))
    .filter(record => record.length > 0)
    .map(record => {
      const [sha, parents, tree, an, ae, ad, cn, ce, cd, message] =
        record.split(FIELD);
      return {
        sha,
        parents: parents ? parents.split(' ') : [],
        tree,
        authorName: an,
        authorEmail: ae,
        authoredDate: ad,
        committerName: cn,
        committerEmail: ce,
        committedDate: cd,
        message,
        title: message.split('\n', 1)[0],
      };
    });
}

function assertRevision(revision: string): void {
  if (revision.length === 0 || revision.startsWith('-')) {
    throw new Error(`Invalid revision "${revision}"`);
  }
}

function splitNul(output: Buffer): string[] {
  const parts = output.toString().split('\0');
  if (parts[parts.length - 1] === '') {
    parts.pop();
  }
  return parts;
}

/**
 * One bare repository. Reads go straight to git; every operation that changes refs goes
 * through `updateRefs`, which serializes them and reports what changed to the host's
 * listeners (that is how pushes over HTTP and programmatic commits both fire hooks).
 */
export class GitRepository {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** The directory holding all repositories of the host (`GIT_PROJECT_ROOT`). */
    readonly projectRoot: string,
    /** Path below the root, e.g. `group/app.git`. */
    readonly relativePath: string,
    private readonly notify: (update: RefsUpdate) => void,
  ) {}

  get directory(): string {
    return `${this.projectRoot}/${this.relativePath}`;
  }

  /** Runs git against this repository. */
  git(args: readonly string[], options: RunGitOptions = {}): Promise<Buffer> {
    return runGit(['--git-dir', this.directory, ...args], options);
  }

  /** Every ref and the object it points at. */
  async refs(): Promise<Map<string, string>> {
    const output = await this.git([
      'for-each-ref',
      '--format=%(objectname) %(refname)',
    ]);
    const refs = new Map<string, string>();
    for (const line of output.toString().split('\n')) {
      if (line) {
        const space = line.indexOf(' ');
        refs.set(line.slice(space + 1), line.slice(0, space));
      }
    }
    return refs;
  }

  /** Branch name → tip commit. */
  async branches(): Promise<Map<string, string>> {
    return this.refsUnder('refs/heads/');
  }

  /** Tag name → tag object (annotated) or commit (lightweight). */
  async tags(): Promise<Map<string, string>> {
    return this.refsUnder('refs/tags/');
  }

  private async refsUnder(prefix: string): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for (const [ref, sha] of await this.refs()) {
      if (ref.startsWith(prefix)) {
        result.set(ref.slice(prefix.length), sha);
      }
    }
    return result;
  }

  /** The branch HEAD names (it may not exist yet in an empty repository). */
  async headBranch(): Promise<string> {
    const output = await this.git(['symbolic-ref', '--short', 'HEAD']);
    return output.toString().trim();
  }

  async setHeadBranch(branch: string): Promise<void> {
    await this.git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  }

  /** The commit a revision (sha, branch, tag, `main~1`...) names, or undefined. */
  async resolveCommit(revision: string): Promise<string | undefined> {
    assertRevision(revision);
    try {
      const output = await this.git([
        'rev-parse',
        '--verify',
        '--quiet',
        '--end-of-options',
        `${revision}^{commit}`,
      ]);
      return output.toString().trim();
    } catch (error) {
      if (error instanceof GitCommandError) {
        return undefined;
      }
      throw error;
    }
  }

  async commit(revision: string): Promise<GitCommit | undefined> {
    const sha = await this.resolveCommit(revision);
    if (!sha) {
      return undefined;
    }
    const [commit] = await this.log([sha], { maxCount: 1 });
    return commit;
  }

  /**
   * Commits reachable from the given revisions, newest first. Revisions may use git's
   * range syntax (`a..b`) and `--not` to exclude what is reachable from later ones.
   */
  async log(
    revisions: string[],
    options: LogOptions = {},
  ): Promise<GitCommit[]> {
    revisions.filter(r => r !== '--not').forEach(assertRevision);
    const args = ['log', `--format=${LOG_FORMAT}`];
    if (options.maxCount !== undefined) {
      args.push(`--max-count=${options.maxCount}`);
    }
    if (options.skip) {
      args.push(`--skip=${options.skip}`);
    }
    if (options.reverse) {
      args.push('--reverse');
    }
    if (options.since) {
      args.push(`--since=${options.since.toISOString()}`);
    }
    if (options.until) {
      args.push(`--until=${options.until.toISOString()}`);
    }
    args.push(...revisions, '--');
    args.push(...(options.paths ?? []));
    return parseCommits((await this.git(args)).toString());
  }

  /** How many commits `log` would list for the same revisions and paths. */
  async countCommits(
    revisions: string[],
    paths: string[] = [],
  ): Promise<number> {
    revisions.filter(r => r !== '--not').forEach(assertRevision);
    const output = await this.git([
      'rev-list',
      '--count',
      ...revisions,
      '--',
      ...paths,
    ]);
    return Number(output.toString().trim());
  }

  /** The content of a file at a revision, or undefined when it is not a file there. */
  async readFile(revision: string, path: string): Promise<Buffer | undefined> {
    const sha = await this.resolveCommit(revision);
    if (!sha) {
      return undefined;
    }
    try {
      return await this.git(['cat-file', 'blob', `${sha}:${path}`]);
    } catch (error) {
      if (error instanceof GitCommandError) {
        return undefined;
      }
      throw error;
    }
  }

  /** Every file path (recursively) at a revision. */
  async listFiles(revision: string): Promise<string[]> {
    assertRevision(revision);
    return splitNul(
      await this.git(['ls-tree', '-r', '-z', '--name-only', revision]),
    );
  }

  /** What a commit added, modified and removed relative to its first parent. */
  async changedFiles(sha: string): Promise<FileChanges> {
    const commit = await this.commit(sha);
    if (!commit) {
      throw new Error(`Unknown commit ${sha}`);
    }
    const base = commit.parents.length > 0 ? [commit.parents[0]] : ['--root'];
    const parts = splitNul(
      await this.git([
        'diff-tree',
        '-r',
        '-z',
        '--no-commit-id',
        '--no-renames',
        '--name-status',
        ...base,
        commit.sha,
      ]),
    );
    const changes: FileChanges = { added: [], modified: [], removed: [] };
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const [status, path] = [parts[i], parts[i + 1]];
      if (status === 'A') {
        changes.added.push(path);
      } else if (status === 'D') {
        changes.removed.push(path);
      } else {
        changes.modified.push(path);
      }
    }
    return changes;
  }

  /** Lines added and deleted by a commit relative to its first parent. */
  async stats(sha: string): Promise<CommitStats> {
    const commit = await this.commit(sha);
    if (!commit) {
      throw new Error(`Unknown commit ${sha}`);
    }
    const base = commit.parents.length > 0 ? [commit.parents[0]] : ['--root'];
    const output = await this.git([
      'diff-tree',
      '-r',
      '--no-commit-id',
      '--numstat',
      ...base,
      commit.sha,
    ]);
    let additions = 0;
    let deletions = 0;
    for (const line of output.toString().split('\n')) {
      const [added, deleted] = line.split('\t');
      // Binary files show "-" for both counts.
      additions += Number(added) || 0;
      deletions += Number(deleted) || 0;
    }
    return { additions, deletions, total: additions + deletions };
  }

  /** The file-by-file diff between two commits, in path order. */
  async diff(base: string, head: string): Promise<FileDiff[]> {
    assertRevision(base);
    assertRevision(head);
    const raw = splitNul(
      await this.git(['diff', '--raw', '-z', '-M', '--no-abbrev', base, head]),
    );
    const patches = (
      await this.git(['diff', '-M', '--no-color', '--no-ext-diff', base, head])
    )
      .toString()
      .split(/^(?=diff --git )/m)
      .filter(chunk => chunk.startsWith('diff --git '));
    const diffs: FileDiff[] = [];
    for (let i = 0; i < raw.length; ) {
      const [oldMode, newMode, , , status] = raw[i].slice(1).split(' ');
      const renamed = status.startsWith('R') || status.startsWith('C');
      const oldPath = raw[i + 1];
      const newPath = renamed ? raw[i + 2] : oldPath;
      i += renamed ? 3 : 2;
      const patch = patches[diffs.length] ?? '';
      const hunkStart = patch.search(/^(@@|Binary files)/m);
      diffs.push({
        oldPath,
        newPath,
        oldMode: Number(oldMode) === 0 ? '0' : oldMode,
        newMode: Number(newMode) === 0 ? '0' : newMode,
        newFile: status === 'A',
        deletedFile: status === 'D',
        renamedFile: status.startsWith('R'),
        patch: hunkStart >= 0 ? patch.slice(hunkStart) : '',
      });
    }
    return diffs;
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    assertRevision(a);
    assertRevision(b);
    try {
      return (await this.git(['merge-base', a, b])).toString().trim();
    } catch (error) {
      if (error instanceof GitCommandError) {
        return undefined;
      }
      throw error;
    }
  }

  /** Names of the branches whose history contains the commit. */
  async branchesContaining(sha: string): Promise<string[]> {
    assertRevision(sha);
    const output = await this.git([
      'for-each-ref',
      '--format=%(refname)',
      `--contains=${sha}`,
      'refs/heads/',
    ]);
    return output
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(ref => ref.slice('refs/heads/'.length));
  }

  /** The commit a tag or commit id finally points at (peels annotated tags). */
  async peel(sha: string): Promise<string | undefined> {
    return this.resolveCommit(sha);
  }

  /** The message of an annotated tag object, or undefined for anything else. */
  async tagMessage(sha: string): Promise<string | undefined> {
    assertRevision(sha);
    const type = (await this.git(['cat-file', '-t', sha])).toString().trim();
    if (type !== 'tag') {
      return undefined;
    }
    const content = (await this.git(['cat-file', 'tag', sha])).toString();
    const bodyStart = content.indexOf('\n\n');
    return bodyStart >= 0 ? content.slice(bodyStart + 2) : '';
  }

  /**
   * Runs an operation that may change refs, one at a time per repository, compares the
   * refs before and after it and reports any change to the host's listeners (before
   * resolving, so a caller that waits for this also waits for the report).
   */
  updateRefs<T>(
    pusher: string | undefined,
    operation: () => Promise<T>,
  ): Promise<T> {
    const run = async () => {
      const before = await this.refs();
      try {
        return await operation();
      } finally {
        const after = await this.refs();
        const changes = diffRefs(before, after);
        if (changes.length > 0) {
          this.notify({ repository: this, changes, pusher });
        }
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

function diffRefs(
  before: Map<string, string>,
  after: Map<string, string>,
): RefChange[] {
  const changes: RefChange[] = [];
  for (const [ref, sha] of after) {
    const old = before.get(ref) ?? ZERO_SHA;
    if (old !== sha) {
      changes.push({ ref, before: old, after: sha });
    }
  }
  for (const [ref, sha] of before) {
    if (!after.has(ref)) {
      changes.push({ ref, before: sha, after: ZERO_SHA });
    }
  }
  return changes.sort((a, b) => a.ref.localeCompare(b.ref));
}
