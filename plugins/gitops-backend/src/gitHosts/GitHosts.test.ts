import { ConfigReader } from '@backstage/config';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { GitHosts } from './GitHosts';

// Retries wait as GitHub asks: seconds.
jest.setTimeout(30_000);

interface Recorded {
  method: string;
  url: string;
  authorization?: string;
  body?: any;
}

/**
 * Just enough of GitHub's REST API (repository webhooks and commit statuses) to run the
 * real Octokit client against over HTTP; the GitLab side runs against the sandbox in
 * the webhook and push tests.
 */
function fakeGitHub() {
  const requests: Recorded[] = [];
  const hooks = new Map<number, any>();
  /** Answers the next requests get instead of being served, as GitHub under load. */
  const faults: Array<{ status: number; retryAfterSeconds?: number }> = [];
  let nextId = 1;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const body = text ? JSON.parse(text) : undefined;
    const url = new URL(req.url!, 'http://localhost');
    requests.push({
      method: req.method!,
      url: url.pathname,
      authorization: req.headers.authorization,
      body,
    });
    const send = (
      status: number,
      payload?: unknown,
      headers: Record<string, string> = {},
    ) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const fault = faults.shift();
    if (fault) {
      return send(
        fault.status,
        {
          // GitHub's words: the throttling plugin tells its rate limits by them.
          message:
            fault.status === 429
              ? 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
              : `injected ${fault.status}`,
        },
        fault.retryAfterSeconds !== undefined
          ? { 'retry-after': String(fault.retryAfterSeconds) }
          : {},
      );
    }
    const hook = /^\/repos\/org\/delivery\/hooks(?:\/(\d+))?$/.exec(
      url.pathname,
    );
    if (hook && req.method === 'GET' && !hook[1]) {
      return send(200, [...hooks.values()]);
    }
    if (hook && req.method === 'POST') {
      const created = { id: nextId++, ...body, config: { ...body.config } };
      delete created.config.secret; // GitHub never shows it.
      hooks.set(created.id, created);
      return send(201, created);
    }
    if (hook && req.method === 'PATCH') {
      const existing = hooks.get(Number(hook[1]));
      if (!existing) return send(404, { message: 'Not Found' });
      Object.assign(existing, { ...body, config: { url: body.config.url } });
      return send(200, existing);
    }
    if (hook && req.method === 'DELETE') {
      return hooks.delete(Number(hook[1]))
        ? send(204)
        : send(404, { message: 'Not Found' });
    }
    if (/^\/repos\/org\/delivery\/statuses\/[0-9a-f]{40}$/.test(url.pathname)) {
      return send(201, { id: nextId++, ...body });
    }
    return send(404, { message: 'Not Found' });
  });
  return { server, requests, hooks, faults };
}

describe('GitHosts against a GitHub API', () => {
  const github = fakeGitHub();
  let host: string;

  beforeAll(async () => {
    await new Promise<void>(resolve =>
      github.server.listen(0, '127.0.0.1', resolve),
    );
    host = `127.0.0.1:${(github.server.address() as AddressInfo).port}`;
  });
  afterAll(() => github.server.close());

  const client = () => {
    const hosts = GitHosts.fromConfig(
      new ConfigReader({
        integrations: {
          github: [{ host, apiBaseUrl: `http://${host}`, token: 'gh-token' }],
        },
      }),
    );
    const repository = parseRepositoryUrl(`https://${host}/org/delivery.git`);
    return { repository, github: hosts.for(repository)! };
  };

  it('creates one JSON push webhook, keeps it, and sets its secret again only when asked', async () => {
    const { repository, github: gh } = client();
    expect(gh.kind).toBe('github');
    const hook = {
      url: 'https://backstage.example.com/api/events/http/github',
      secret: 's1',
    };

    const first = await gh.ensurePushWebhook(repository, hook, {
      setSecret: true,
    });
    expect(first.created).toBe(true);
    const create = github.requests.find(r => r.method === 'POST')!;
    expect(create.authorization).toMatch(/gh-token/);
    expect(create.body).toEqual({
      name: 'web',
      active: true,
      events: ['push'],
      config: {
        url: hook.url,
        content_type: 'json',
        secret: 's1',
        insecure_ssl: '0',
      },
    });

    github.requests.length = 0;
    const again = await gh.ensurePushWebhook(repository, hook, {
      setSecret: false,
    });
    expect(again).toEqual({ id: first.id, created: false });
    expect(github.requests.map(r => r.method)).toEqual(['GET']);

    await gh.ensurePushWebhook(
      repository,
      { ...hook, secret: 's2' },
      { setSecret: true },
    );
    const update = github.requests.find(r => r.method === 'PATCH')!;
    expect(update.url).toBe(`/repos/org/delivery/hooks/${first.id}`);
    expect(update.body.config.secret).toBe('s2');
    expect(github.hooks.size).toBe(1);

    await gh.removeWebhook(repository, first.id);
    expect(github.hooks.size).toBe(0);
    // A hook already gone is not an error.
    await expect(
      gh.removeWebhook(repository, first.id),
    ).resolves.toBeUndefined();
  });

  it('posts commit statuses, failed as GitHub\u2019s failure, with a description GitHub accepts', async () => {
    const { repository, github: gh } = client();
    const sha = 'a'.repeat(40);
    await gh.setCommitStatus(repository, sha, {
      state: 'failed',
      context: 'gitops/dev/flux-system/podinfo',
      description: `Failed on dev: ${'x'.repeat(300)}`,
      targetUrl:
        'http://localhost:3000/catalog/default/component/podinfo/gitops',
    });
    const posted = github.requests.find(
      r => r.url === `/repos/org/delivery/statuses/${sha}`,
    )!;
    expect(posted.body).toMatchObject({
      state: 'failure',
      context: 'gitops/dev/flux-system/podinfo',
      target_url:
        'http://localhost:3000/catalog/default/component/podinfo/gitops',
    });
    expect(posted.body.description).toHaveLength(140);
  });

  it('retries what GitHub did not serve: 5xx, and 429 after its Retry-After', async () => {
    const { repository, github: gh } = client();
    const sha = 'c'.repeat(40);
    const status = {
      state: 'success' as const,
      context: 'gitops/dev/flux-system/retried',
      description: 'Applied',
    };
    github.requests.length = 0;
    github.faults.push({ status: 502 }, { status: 503 });
    await gh.setCommitStatus(repository, sha, status);
    expect(github.requests.map(r => r.method)).toEqual([
      'POST',
      'POST',
      'POST',
    ]);

    github.requests.length = 0;
    github.faults.push({ status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    await gh.setCommitStatus(repository, sha, status);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(github.requests).toHaveLength(2);

    // A wait longer than the backend would hold a request is not taken: it fails now,
    // and the caller's next round tries again.
    github.faults.push({ status: 429, retryAfterSeconds: 3600 });
    await expect(gh.setCommitStatus(repository, sha, status)).rejects.toThrow(
      /secondary rate limit/,
    );
    github.faults.length = 0;
  });

  it('has no client for a host without an integration, nor for OCI repositories', () => {
    const hosts = GitHosts.fromConfig(new ConfigReader({}));
    expect(
      hosts.for(parseRepositoryUrl('https://github.example.com/org/repo.git')),
    ).toBeUndefined();
    expect(
      hosts.for(parseRepositoryUrl('oci://ghcr.io/org/repo')),
    ).toBeUndefined();
  });
});
