import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  commitDirectory,
  commitFiles,
  createRepositoryFromDirectory,
  gitEnvironment,
  GitHost,
  parseGitHttpRequest,
  RefsUpdate,
  serveGitHttpBackend,
  ZERO_SHA,
} from '.';

const exec = promisify(execFile);
const author = { name: 'Ada', email: 'ada@example.com' };

/** The git CLI as a user runs it, with no credential helper or prompt. */
async function gitCli(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await exec('git', ['-c', 'credential.helper=', ...args], {
    cwd,
    env: gitEnvironment({
      GIT_AUTHOR_NAME: 'Cli',
      GIT_AUTHOR_EMAIL: 'cli@example.com',
      GIT_COMMITTER_NAME: 'Cli',
      GIT_COMMITTER_EMAIL: 'cli@example.com',
    }),
  });
  return stdout;
}

describe('git host', () => {
  let host: GitHost;
  let work: string;
  const updates: RefsUpdate[] = [];

  beforeEach(async () => {
    host = await GitHost.create();
    work = await mkdtemp(join(tmpdir(), 'git-test-work-'));
    updates.length = 0;
    host.onRefsUpdated(update => updates.push(update));
  });

  afterEach(async () => {
    await host.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('creates bare repositories on main and commits files programmatically', async () => {
    const repo = await host.createRepository('team/app.git');
    expect(await repo.headBranch()).toBe('main');
    expect(await repo.refs()).toEqual(new Map());

    const first = await commitFiles(
      repo,
      'main',
      { 'README.md': '# App\n', 'deploy/app.yaml': 'kind: Deployment\n' },
      'Initial commit',
      author,
      { pusher: 'ada', date: new Date('2024-01-02T03:04:05Z') },
    );
    const second = await commitFiles(
      repo,
      'main',
      {
        'README.md': null,
        'deploy/app.yaml': 'kind: Service\n',
        'new.txt': 'x',
      },
      'Second',
      author,
    );

    expect(await repo.branches()).toEqual(new Map([['main', second]]));
    expect((await repo.readFile('main', 'deploy/app.yaml'))?.toString()).toBe(
      'kind: Service\n',
    );
    expect(await repo.readFile('main', 'README.md')).toBeUndefined();
    expect((await repo.readFile(first, 'README.md'))?.toString()).toBe(
      '# App\n',
    );
    expect(await repo.listFiles('main')).toEqual([
      'deploy/app.yaml',
      'new.txt',
    ]);

    const commit = await repo.commit(first);
    expect(commit).toMatchObject({
      sha: first,
      parents: [],
      authorName: 'Ada',
      authorEmail: 'ada@example.com',
      authoredDate: '2024-01-02T03:04:05+00:00',
      message: 'Initial commit\n',
      title: 'Initial commit',
    });
    expect((await repo.log(['main'])).map(c => c.sha)).toEqual([second, first]);
    expect(await repo.countCommits(['main'])).toBe(2);
    expect(await repo.changedFiles(second)).toEqual({
      added: ['new.txt'],
      modified: ['deploy/app.yaml'],
      removed: ['README.md'],
    });
    expect(await repo.changedFiles(first)).toEqual({
      added: ['README.md', 'deploy/app.yaml'],
      modified: [],
      removed: [],
    });
    const diffs = await repo.diff(first, second);
    expect(diffs.map(d => [d.oldPath, d.newFile, d.deletedFile])).toEqual([
      ['README.md', false, true],
      ['deploy/app.yaml', false, false],
      ['new.txt', true, false],
    ]);
    expect(diffs[1].patch).toContain('-kind: Deployment\n+kind: Service');

    expect(updates.map(u => [u.pusher, u.changes])).toEqual([
      ['ada', [{ ref: 'refs/heads/main', before: ZERO_SHA, after: first }]],
      [undefined, [{ ref: 'refs/heads/main', before: first, after: second }]],
    ]);
  });

  it('starts new branches from a start point and rejects bad paths', async () => {
    const repo = await host.createRepository('app.git');
    const base = await commitFiles(repo, 'main', { a: '1' }, 'base', author);
    const feature = await commitFiles(
      repo,
      'feature/x',
      { b: '2' },
      'feat',
      author,
      {
        startPoint: 'main',
      },
    );
    expect((await repo.commit(feature))?.parents).toEqual([base]);
    expect(await repo.branchesContaining(base)).toEqual(['feature/x', 'main']);
    await expect(
      commitFiles(repo, 'main', { '../x': 'no' }, 'bad', author),
    ).rejects.toThrow('Invalid file path');
    await expect(host.createRepository('../escape.git')).rejects.toThrow();
    await expect(host.createRepository('app.git')).rejects.toThrow(
      'already exists',
    );
  });

  it('creates a repository from a directory and commits directories', async () => {
    await mkdir(join(work, 'clusters/dev'), { recursive: true });
    await writeFile(join(work, 'clusters/dev/flux.yaml'), 'apiVersion: v1\n');
    await writeFile(join(work, 'top.txt'), 'top\n');
    const { repository, sha } = await createRepositoryFromDirectory(
      host,
      'fleet/infra.git',
      work,
      author,
    );
    expect(await repository.listFiles(sha)).toEqual([
      'clusters/dev/flux.yaml',
      'top.txt',
    ]);
    expect((await repository.commit(sha))?.title).toBe('Initial commit');

    // A later directory commit replaces the whole tree.
    await rm(join(work, 'top.txt'));
    const next = await commitDirectory(
      repository,
      'main',
      work,
      'sync',
      author,
    );
    expect(await repository.listFiles(next)).toEqual([
      'clusters/dev/flux.yaml',
    ]);
    expect(await repository.changedFiles(next)).toEqual({
      added: [],
      modified: [],
      removed: ['top.txt'],
    });
    expect(updates).toHaveLength(2);
    expect(await host.openRepository('fleet/infra.git')).toBe(repository);
    expect(await host.openRepository('fleet/none.git')).toBeUndefined();
  });

  describe('smart HTTP', () => {
    let server: Server;
    let url: string;

    beforeEach(async () => {
      server = createServer(async (req, res) => {
        const requestUrl = new URL(req.url ?? '/', 'http://localhost');
        const parsed = parseGitHttpRequest(
          req.method ?? 'GET',
          requestUrl.pathname,
          requestUrl.searchParams,
        );
        const repository = parsed
          ? await host.openRepository(`${parsed.repositoryPath}.git`)
          : undefined;
        if (!parsed || !repository) {
          res.writeHead(404).end();
          return;
        }
        await serveGitHttpBackend(req, res, {
          repository,
          endpoint: parsed.endpoint,
          remoteUser: 'pusher',
        });
      });
      await new Promise<void>(resolve =>
        server.listen(0, '127.0.0.1', resolve),
      );
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterEach(async () => {
      await new Promise(resolve => server.close(resolve));
    });

    it('parses smart HTTP paths', () => {
      const q = (s: string) => new URLSearchParams(s);
      expect(
        parseGitHttpRequest(
          'GET',
          '/g/app.git/info/refs',
          q('service=git-upload-pack'),
        ),
      ).toEqual({
        repositoryPath: 'g/app',
        endpoint: '/info/refs',
        service: 'git-upload-pack',
      });
      expect(
        parseGitHttpRequest('POST', '/g/s/app/git-receive-pack', q('')),
      ).toEqual({
        repositoryPath: 'g/s/app',
        endpoint: '/git-receive-pack',
        service: 'git-receive-pack',
      });
      expect(
        parseGitHttpRequest('GET', '/g/app.git/info/refs', q('')),
      ).toBeUndefined();
      expect(
        parseGitHttpRequest('GET', '/g/app.git/HEAD', q('')),
      ).toBeUndefined();
    });

    it('clones, pushes and reports the pushed ref changes', async () => {
      const repo = await host.createRepository('g/app.git');
      const first = await commitFiles(
        repo,
        'main',
        { 'a.txt': 'a\n' },
        'first',
        author,
      );
      updates.length = 0;

      const clone = join(work, 'clone');
      await gitCli(['clone', '--quiet', `${url}/g/app.git`, clone]);
      expect(await readFile(join(clone, 'a.txt'), 'utf8')).toBe('a\n');

      await writeFile(join(clone, 'b.txt'), 'b\n');
      await gitCli(['add', 'b.txt'], clone);
      await gitCli(['commit', '--quiet', '-m', 'second'], clone);
      await gitCli(['tag', 'v1'], clone);
      await gitCli(
        ['push', '--quiet', 'origin', 'main', 'v1', 'main:refs/heads/other'],
        clone,
      );
      const pushed = (await gitCli(['rev-parse', 'HEAD'], clone)).trim();

      expect(await repo.resolveCommit('main')).toBe(pushed);
      expect(updates).toHaveLength(1);
      expect(updates[0].pusher).toBe('pusher');
      expect(updates[0].changes).toEqual([
        { ref: 'refs/heads/main', before: first, after: pushed },
        { ref: 'refs/heads/other', before: ZERO_SHA, after: pushed },
        { ref: 'refs/tags/v1', before: ZERO_SHA, after: pushed },
      ]);

      // A rejected (non-fast-forward) push changes nothing and reports nothing.
      await gitCli(['reset', '--quiet', '--hard', first], clone);
      await writeFile(join(clone, 'c.txt'), 'c\n');
      await gitCli(['add', 'c.txt'], clone);
      await gitCli(['commit', '--quiet', '-m', 'diverged'], clone);
      await expect(
        gitCli(['push', '--quiet', 'origin', 'main'], clone),
      ).rejects.toThrow();
      expect(updates).toHaveLength(1);

      await gitCli(['push', '--quiet', 'origin', ':other'], clone);
      expect(updates[1].changes).toEqual([
        { ref: 'refs/heads/other', before: pushed, after: ZERO_SHA },
      ]);
    });

    it('accepts gzip-compressed request bodies', async () => {
      const repo = await host.createRepository('z.git');
      const sha = await commitFiles(
        repo,
        'main',
        { f: 'content' },
        'c',
        author,
      );
      const pkt = (line: string) =>
        `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
      const body = `${pkt(`want ${sha}\n`)}0000${pkt('done\n')}`;
      const response = await fetch(`${url}/z.git/git-upload-pack`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-git-upload-pack-request',
          'Content-Encoding': 'gzip',
        },
        body: gzipSync(body),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(
        'application/x-git-upload-pack-result',
      );
      const result = Buffer.from(await response.arrayBuffer());
      expect(result.includes(Buffer.from('PACK'))).toBe(true);
    });
  });
});
