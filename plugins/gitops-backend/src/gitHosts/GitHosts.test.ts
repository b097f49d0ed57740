import { ConfigReader } from '@backstage/config';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { GitHosts } from './GitHosts';

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
    const send = (status: number, payload?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
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
  return { server, requests, hooks };
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
