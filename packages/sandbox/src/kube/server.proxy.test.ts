import http, { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ADMIN_TOKEN,
  startTestCluster,
  type TestCluster,
} from './__testUtils__/cluster';

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('service proxy', () => {
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await startTestCluster();
    await cluster.core.createNamespace({
      body: { metadata: { name: 'flux-system' } },
    });
    await cluster.core.createNamespacedService({
      namespace: 'flux-system',
      body: {
        metadata: { name: 'webhook-receiver' },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 9292 }] },
      },
    });
  });

  afterEach(async () => {
    await cluster.server.stop();
  });

  function proxyRequest(
    path: string,
    init: RequestInit = {},
    token = ADMIN_TOKEN,
  ) {
    return fetch(
      `${cluster.server.url}/api/v1/namespaces/flux-system/services/${path}`,
      {
        ...init,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(init.headers as Record<string, string>),
        },
      },
    );
  }

  it('forwards method, path, query, headers (minus Authorization) and body to an in-process handler', async () => {
    cluster.server.registerServiceHandler(
      'flux-system',
      'webhook-receiver',
      (req, res) => {
        bodyOf(req).then(body => {
          res.writeHead(200, {
            'Content-Type': 'application/json',
            'X-Backend': 'receiver',
          });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              authorization: req.headers.authorization ?? null,
              gitlabToken: req.headers['x-gitlab-token'],
              body,
            }),
          );
        });
      },
    );
    const response = await proxyRequest(
      'http:webhook-receiver:80/proxy/hook/abc123?source=gitlab',
      {
        method: 'POST',
        headers: {
          'X-Gitlab-Token': 'secret',
          'Content-Type': 'application/json',
        },
        body: '{"object_kind":"push"}',
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-backend')).toBe('receiver');
    expect(await response.json()).toEqual({
      method: 'POST',
      url: '/hook/abc123?source=gitlab',
      authorization: null,
      gitlabToken: 'secret',
      body: '{"object_kind":"push"}',
    });
    const plain = await proxyRequest('webhook-receiver/proxy', {
      method: 'POST',
    });
    expect(plain.status).toBe(200);
    expect((await plain.json()).url).toBe('/');
  });

  it('streams to a target URL', async () => {
    const backend = http.createServer((req, res) => {
      res.writeHead(202, { 'Content-Type': 'text/plain' });
      res.end(
        `backend saw ${req.method} ${req.url} auth=${
          req.headers.authorization ?? 'none'
        }`,
      );
    });
    await new Promise<void>(resolve => backend.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = backend.address() as AddressInfo;
      cluster.server.registerServiceHandler(
        'flux-system',
        'webhook-receiver',
        `http://127.0.0.1:${port}`,
      );
      const response = await proxyRequest('webhook-receiver:http/proxy/hook/x');
      expect(response.status).toBe(202);
      expect(await response.text()).toBe('backend saw GET /hook/x auth=none');
    } finally {
      await new Promise(resolve => backend.close(resolve));
    }
  });

  it('answers 404 for a missing Service and 503 without a backend or port', async () => {
    const missing = await proxyRequest('http:missing:80/proxy/');
    expect(missing.status).toBe(404);
    expect((await missing.json()).message).toBe('services "missing" not found');
    const noBackend = await proxyRequest('http:webhook-receiver:80/proxy/');
    expect(noBackend.status).toBe(503);
    expect((await noBackend.json()).message).toBe(
      'no endpoints available for service "webhook-receiver"',
    );
    cluster.server.registerServiceHandler(
      'flux-system',
      'webhook-receiver',
      (_req, res) => res.end('ok'),
    );
    const wrongPort = await proxyRequest('http:webhook-receiver:81/proxy/');
    expect(wrongPort.status).toBe(503);
    cluster.server.unregisterServiceHandler('flux-system', 'webhook-receiver');
    expect((await proxyRequest('webhook-receiver/proxy/')).status).toBe(503);
  });

  it('requires the services/proxy permission', async () => {
    cluster.server.registerServiceHandler(
      'flux-system',
      'webhook-receiver',
      (_req, res) => res.end('ok'),
    );
    cluster.server.addToken('agent', {
      user: 'gitlab-agent',
      rules: [
        { verbs: ['get', 'list'], apiGroups: [''], resources: ['services'] },
      ],
    });
    const denied = await proxyRequest(
      'http:webhook-receiver:80/proxy/hook/x',
      { method: 'POST' },
      'agent',
    );
    expect(denied.status).toBe(403);
    expect((await denied.json()).message).toBe(
      'services "http:webhook-receiver:80" is forbidden: User "gitlab-agent" cannot create resource "services/proxy" in API group "" in the namespace "flux-system"',
    );
    cluster.server.addToken('agent', {
      user: 'gitlab-agent',
      rules: [
        {
          verbs: ['get', 'create'],
          apiGroups: [''],
          resources: ['services/proxy'],
          namespaces: ['flux-system'],
        },
      ],
    });
    const allowed = await proxyRequest(
      'http:webhook-receiver:80/proxy/hook/x',
      { method: 'POST' },
      'agent',
    );
    expect(allowed.status).toBe(200);
  });
});
