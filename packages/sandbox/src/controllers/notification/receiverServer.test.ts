import { createHmac } from 'node:crypto';
import type { KubeClusterStore } from '../../kube/store';
import type { KubeObject } from '../../kube/types';
import { RECEIVER } from './apiRefs';
import {
  startNotificationController,
  type NotificationController,
} from './controller';
import { startReceiverServer, type ReceiverServer } from './receiverServer';
import { createTestStore, secretData, waitFor } from './testEnv';

const NS = 'flux-system';
const TOKEN = 's3cret';
const GIT_REPOSITORY = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};
const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

function receiver(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name, namespace: NS },
    spec: {
      secretRef: { name: 'webhook-token' },
      resources: [{ kind: 'GitRepository', name: 'app' }],
      ...spec,
    },
  };
}

function hmac(algorithm: string, body: string) {
  return `${algorithm}=${createHmac(algorithm, TOKEN)
    .update(body)
    .digest('hex')}`;
}

describe('webhook receiver over HTTP', () => {
  let store: KubeClusterStore;
  let controller: NotificationController;
  let server: ReceiverServer;
  const paths: Record<string, string> = {};

  const requestedAt = (ref: typeof GIT_REPOSITORY, name: string) =>
    store.get(ref, NS, name)?.metadata.annotations?.[REQUESTED_AT];

  async function post(
    receiverName: string,
    init: { headers?: Record<string, string>; body?: string } = {},
  ) {
    const response = await fetch(
      `${server.url}${paths[receiverName] ?? `/hook/${receiverName}`}`,
      {
        method: 'POST',
        headers: init.headers,
        body: init.body,
      },
    );
    return { status: response.status, text: (await response.text()).trim() };
  }

  beforeAll(async () => {
    store = createTestStore();
    store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'webhook-token', namespace: NS },
      data: secretData({ token: TOKEN }),
    });
    for (const [name, team] of [
      ['app', 'a'],
      ['app-2', 'a'],
      ['other', 'b'],
    ]) {
      store.create({
        ...GIT_REPOSITORY,
        metadata: { name, namespace: NS, labels: { team } },
        spec: { url: 'http://git/x', interval: '1m' },
      });
    }
    store.create({
      ...KUSTOMIZATION,
      metadata: { name: 'apps', namespace: NS },
      spec: { interval: '1m', prune: true },
    });
    const receivers = [
      receiver('generic', { type: 'generic' }),
      receiver('hmac', { type: 'generic-hmac' }),
      receiver('github', {
        type: 'github',
        events: ['push'],
        resources: [
          { kind: 'GitRepository', name: '*', matchLabels: { team: 'a' } },
        ],
      }),
      receiver('gitlab', { type: 'gitlab', events: ['Push Hook'] }),
      receiver('suspended', { type: 'generic' }),
      receiver('not-ready', { type: 'generic' }),
      receiver('no-api-version', {
        type: 'generic',
        resources: [{ kind: 'Kustomization', name: 'apps' }],
      }),
      receiver('kustomization', {
        type: 'generic',
        resources: [
          {
            apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
            kind: 'Kustomization',
            name: 'apps',
          },
        ],
      }),
    ];
    receivers.forEach(r => store.create(r));

    controller = startNotificationController({ store });
    server = await startReceiverServer({ store, handler: controller.handler });
    const webhookPath = (name: string) =>
      (
        store.get(RECEIVER, NS, name)?.status as
          | { webhookPath?: string }
          | undefined
      )?.webhookPath;
    await waitFor(
      () => receivers.every(r => webhookPath(r.metadata.name)),
      'webhook paths',
    );
    for (const { metadata } of receivers) {
      paths[metadata.name] = webhookPath(metadata.name)!;
    }
    store.mergePatch(RECEIVER, NS, 'suspended', { spec: { suspend: true } });
    store.mergePatch(
      RECEIVER,
      NS,
      'not-ready',
      {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'Failed',
              message: 'broken',
              lastTransitionTime: '2024-01-01T00:00:00Z',
            },
          ],
        },
      },
      { subresource: 'status' },
    );
  });

  afterAll(async () => {
    await server.stop();
    await controller.stop();
    store.close();
  });

  it('answers 404 for unknown paths', async () => {
    expect((await post('0123456789abcdef')).status).toBe(404);
    const root = await fetch(`${server.url}/`, { method: 'POST' });
    expect(root.status).toBe(404);
    await root.text();
  });

  it('answers 503 for suspended and not Ready receivers', async () => {
    expect(await post('suspended')).toEqual({
      status: 503,
      text: 'receiver is suspended',
    });
    expect(await post('not-ready')).toEqual({
      status: 503,
      text: 'receiver is not ready',
    });
  });

  it('answers 413 for bodies over 3 MiB, without annotating', async () => {
    const before = requestedAt(GIT_REPOSITORY, 'app');
    const response = await post('generic', {
      body: 'x'.repeat(3 * 1024 * 1024 + 1),
    });
    expect(response.status).toBe(413);
    expect(requestedAt(GIT_REPOSITORY, 'app')).toBe(before);
  });

  it('requests a reconciliation of the listed resource for a generic receiver', async () => {
    const before = requestedAt(GIT_REPOSITORY, 'app');
    const answeredBefore = controller.handler.answered.get(200) ?? 0;
    const sentAt = performance.timeOrigin + performance.now();
    expect(await post('generic')).toEqual({ status: 200, text: '' });
    expect(controller.handler.answered.get(200)).toBe(answeredBefore + 1);
    expect(controller.requests.at(-1)!.receivedAt).toBeGreaterThanOrEqual(
      sentAt,
    );
    const after = requestedAt(GIT_REPOSITORY, 'app');
    expect(after).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    expect(after).not.toBe(before);
    expect(controller.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: paths.generic,
      receiver: 'flux-system/generic',
      status: 200,
    });
  });

  it('validates generic-hmac signatures with sha1, sha256 and sha512', async () => {
    const body = '{"event":"push"}';
    for (const algorithm of ['sha1', 'sha256', 'sha512']) {
      const before = requestedAt(GIT_REPOSITORY, 'app');
      const response = await post('hmac', {
        headers: { 'X-Signature': hmac(algorithm, body) },
        body,
      });
      expect(response.status).toBe(200);
      expect(requestedAt(GIT_REPOSITORY, 'app')).not.toBe(before);
    }
    expect(
      await post('hmac', {
        headers: { 'X-Signature': hmac('sha256', 'other') },
        body,
      }),
    ).toEqual({
      status: 400,
      text: 'unable to validate payload: unable to validate HMAC signature: payload signature check failed',
    });
    expect((await post('hmac', { body })).text).toContain('missing signature');
    expect(
      (await post('hmac', { headers: { 'X-Signature': 'md5=00' }, body })).text,
    ).toContain('unknown hash type prefix: "md5"');
  });

  it('validates GitHub signatures and events and annotates by matchLabels', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const headers = {
      'Content-Type': 'application/json',
      'X-Hub-Signature-256': hmac('sha256', body),
      'X-GitHub-Event': 'push',
    };
    const before = {
      app: requestedAt(GIT_REPOSITORY, 'app'),
      app2: requestedAt(GIT_REPOSITORY, 'app-2'),
    };
    expect((await post('github', { headers, body })).status).toBe(200);
    expect(requestedAt(GIT_REPOSITORY, 'app')).not.toBe(before.app);
    expect(requestedAt(GIT_REPOSITORY, 'app-2')).not.toBe(before.app2);
    expect(requestedAt(GIT_REPOSITORY, 'other')).toBeUndefined();

    expect(
      await post('github', {
        headers: { ...headers, 'X-GitHub-Event': 'issues' },
        body,
      }),
    ).toEqual({
      status: 400,
      text: "unable to validate payload: the GitHub event 'issues' is not authorised",
    });
    const badSignature = await post('github', {
      headers: {
        ...headers,
        'X-Hub-Signature-256': hmac('sha256', 'tampered'),
      },
      body,
    });
    expect(badSignature).toEqual({
      status: 400,
      text: 'unable to validate payload: the GitHub signature header is invalid, err: payload signature check failed',
    });

    const pingedBefore = requestedAt(GIT_REPOSITORY, 'app');
    expect(
      (
        await post('github', {
          headers: { ...headers, 'X-GitHub-Event': 'ping' },
          body,
        })
      ).status,
    ).toBe(200);
    expect(requestedAt(GIT_REPOSITORY, 'app')).toBe(pingedBefore);
  });

  it('checks the GitLab token and event', async () => {
    const headers = { 'X-Gitlab-Token': TOKEN, 'X-Gitlab-Event': 'Push Hook' };
    const before = requestedAt(GIT_REPOSITORY, 'app');
    expect((await post('gitlab', { headers, body: '{}' })).status).toBe(200);
    expect(requestedAt(GIT_REPOSITORY, 'app')).not.toBe(before);

    expect(
      await post('gitlab', {
        headers: { ...headers, 'X-Gitlab-Token': 'wrong' },
      }),
    ).toEqual({
      status: 400,
      text: 'unable to validate payload: the X-Gitlab-Token header value does not match the receiver token',
    });
    expect(
      await post('gitlab', {
        headers: { ...headers, 'X-Gitlab-Event': 'Tag Push Hook' },
      }),
    ).toEqual({
      status: 400,
      text: "unable to validate payload: the GitLab event 'Tag Push Hook' is not authorised",
    });
  });

  it('needs an apiVersion for kinds outside source.toolkit', async () => {
    expect(await post('no-api-version')).toEqual({
      status: 500,
      text: "unable to request reconciliation: apiVersion must be specified for kind 'Kustomization'",
    });
    expect((await post('kustomization')).status).toBe(200);
    expect(requestedAt(KUSTOMIZATION, 'apps')).toBeDefined();
  });

  it('answers injected faults before handling requests', async () => {
    controller.faults.failNext(2, 503);
    expect((await post('generic')).status).toBe(503);
    expect((await post('generic')).status).toBe(503);
    expect((await post('generic')).status).toBe(200);
    expect(controller.requests.slice(-3).map(r => r.status)).toEqual([
      503, 503, 200,
    ]);
  });
});
