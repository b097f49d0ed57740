import { GitOpsClient } from './GitOpsClient';

const discoveryApi = {
  getBaseUrl: async (pluginId: string) =>
    `http://backstage.test/api/${pluginId}`,
};
const base = 'http://backstage.test/api/gitops';

function answering(status: number, body: unknown) {
  return jest.fn(
    async (_input: RequestInfo | URL, _init?: RequestInit) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      }),
  );
}

const target = {
  cluster: 'dev',
  kind: 'Kustomization' as const,
  namespace: 'flux-system',
  name: 'podinfo',
};

describe('GitOpsClient', () => {
  it('calls the backend through fetchApi at the discovered URL', async () => {
    const fetch = answering(200, { status: 'ok' });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(client.getHealth()).resolves.toEqual({ status: 'ok' });
    expect(fetch).toHaveBeenCalledWith(`${base}/health`);
  });

  it('reads the entity status at the entity path', async () => {
    const status = { entityRef: 'component:default/podinfo', clusters: [] };
    const fetch = answering(200, status);
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(
      client.getStatus('Component:default/podinfo'),
    ).resolves.toEqual(status);
    expect(fetch).toHaveBeenCalledWith(
      `${base}/entities/component/default/podinfo/status`,
    );
  });

  it('escapes the parts of the entity path', async () => {
    const fetch = answering(200, { items: [] });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await client.getAudit('component:my ns/a#b');
    expect(fetch).toHaveBeenCalledWith(
      `${base}/entities/component/my%20ns/a%23b/audit`,
    );
  });

  it('posts a reconcile with its target and source flag and returns the operations', async () => {
    const operation = { id: 'op-1', status: 'pending', steps: [] };
    const fetch = answering(202, { items: [operation] });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(
      client.reconcile('component:default/podinfo', {
        target: { ...target, extra: 'dropped' } as typeof target,
        withSource: true,
      }),
    ).resolves.toEqual([operation]);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(`${base}/entities/component/default/podinfo/reconcile`);
    expect(init?.method).toBe('POST');
    expect(init?.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(JSON.parse(String(init?.body))).toEqual({
      target,
      withSource: true,
    });
  });

  it('posts an empty reconcile for all of the entity objects', async () => {
    const fetch = answering(202, { items: [] });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await client.reconcile('component:default/podinfo');
    expect(JSON.parse(String(fetch.mock.calls[0][1]?.body))).toEqual({});
  });

  it.each(['suspend', 'resume'] as const)(
    'posts %s with the target',
    async action => {
      const fetch = answering(202, { items: [{ id: 'op-2' }] });
      const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
      await expect(
        client[action]('component:default/podinfo', target),
      ).resolves.toEqual([{ id: 'op-2' }]);
      const [url, init] = fetch.mock.calls[0];
      expect(url).toBe(`${base}/entities/component/default/podinfo/${action}`);
      expect(init?.method).toBe('POST');
      expect(JSON.parse(String(init?.body))).toEqual({ target });
    },
  );

  it('reads an operation and the audit trail', async () => {
    const fetch = answering(200, { id: 'op/1' });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(client.getOperation('op/1')).resolves.toEqual({
      id: 'op/1',
    });
    expect(fetch).toHaveBeenCalledWith(`${base}/operations/op%2F1`);

    const records = [{ id: 'a1', action: 'reconcile' }];
    const auditFetch = answering(200, { items: records });
    const auditClient = new GitOpsClient({
      discoveryApi,
      fetchApi: { fetch: auditFetch },
    });
    await expect(
      auditClient.getAudit('component:default/podinfo'),
    ).resolves.toEqual(records);
    expect(auditFetch).toHaveBeenCalledWith(
      `${base}/entities/component/default/podinfo/audit`,
    );
  });

  it('reads the receivers of an entity', async () => {
    const receivers = [{ cluster: 'dev', name: 'gitops-git-team-delivery' }];
    const fetch = answering(200, { items: receivers });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(
      client.getReceivers('component:default/podinfo'),
    ).resolves.toEqual(receivers);
    expect(fetch).toHaveBeenCalledWith(
      `${base}/entities/component/default/podinfo/receivers`,
    );
  });

  it('turns an error response into a ResponseError', async () => {
    const fetch = answering(403, {
      error: { name: 'NotAllowedError', message: 'nope' },
    });
    const client = new GitOpsClient({ discoveryApi, fetchApi: { fetch } });
    await expect(
      client.reconcile('component:default/payments', { withSource: true }),
    ).rejects.toMatchObject({
      name: 'ResponseError',
      statusCode: 403,
    });
    await expect(
      client.getStatus('component:default/payments'),
    ).rejects.toMatchObject({ name: 'ResponseError', statusCode: 403 });
  });
});
