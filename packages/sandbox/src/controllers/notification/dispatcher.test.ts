import { createHmac } from 'node:crypto';
import type { KubeClusterStore } from '../../kube/store';
import type { KubeObject } from '../../kube/types';
import { recordEvent } from '../events';
import {
  startNotificationController,
  type NotificationController,
} from './controller';
import {
  createTestStore,
  secretData,
  sendJson,
  startFakeHttpServer,
  waitFor,
  type FakeHttpServer,
} from './testEnv';

const NS = 'flux-system';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OTHER_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const OCI_DIGEST = 'a'.repeat(64);
const TOKEN = 'glpat-secret-token';

interface StoredStatus {
  sha: string;
  name: string;
  status: string;
  description: string;
}

/**
 * Just enough of GitLab's commit status API, with a switch to fail the next requests; GitHub
 * statuses and forwarded events are accepted and only recorded.
 */
function fakeGitLab() {
  const statuses: StoredStatus[] = [];
  const failures: number[] = [];
  return {
    statuses,
    failures,
    start: () =>
      startFakeHttpServer((request, res) => {
        const failure = failures.shift();
        if (failure) {
          sendJson(res, failure, { message: `${failure} failure` });
          return;
        }
        const url = new URL(request.url, 'http://gitlab');
        const list =
          /^\/api\/v4\/projects\/([^/]+)\/repository\/commits\/([0-9a-f]+)\/statuses$/.exec(
            url.pathname,
          );
        const create =
          /^\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]+)$/.exec(
            url.pathname,
          );
        if (request.method === 'GET' && list) {
          const name = url.searchParams.get('name');
          sendJson(
            res,
            200,
            statuses.filter(
              s => s.sha === list[2] && (!name || s.name === name),
            ),
          );
        } else if (request.method === 'POST' && create) {
          const body = JSON.parse(request.body);
          const stored = {
            sha: create[2],
            name: body.name,
            status: body.state,
            description: body.description,
          };
          statuses.push(stored);
          sendJson(res, 201, stored);
        } else if (
          request.method === 'GET' &&
          url.pathname.startsWith('/api/v3/')
        ) {
          sendJson(res, 200, []);
        } else if (request.method === 'POST') {
          sendJson(res, 201, {});
        } else {
          sendJson(res, 404, { message: '404 Not Found' });
        }
      }),
  };
}

function kustomization(
  name: string,
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: NS, labels },
    spec: { interval: '10m', prune: true },
  };
}

function provider(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace: NS },
    spec,
  };
}

function alert(
  name: string,
  providerName: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace: NS },
    spec: {
      providerRef: { name: providerName },
      eventSources: [{ kind: 'Kustomization', name: '*' }],
      ...spec,
    },
  };
}

/**
 * What kustomize-controller records: the end of a reconciliation is marked as a commit
 * status update, other events (change sets) are not.
 */
function kustomizeEvent(
  store: KubeClusterStore,
  object: KubeObject,
  input: {
    type?: 'Normal' | 'Warning';
    reason: string;
    message: string;
    metadata?: Record<string, string>;
    commitStatusUpdate?: boolean;
  },
) {
  recordEvent(store, store.get(object, NS, object.metadata.name)!, {
    type: input.type ?? 'Normal',
    reason: input.reason,
    message: input.message,
    metadata: {
      revision: `main@sha1:${COMMIT}`,
      ...(input.commitStatusUpdate === false
        ? {}
        : { commit_status: 'update' }),
      ...input.metadata,
    },
    reportingController: 'kustomize-controller',
  });
}

function alertEvents(store: KubeClusterStore, alertName: string) {
  return store
    .list({ apiVersion: 'v1', kind: 'Event' }, { namespace: NS })
    .items.filter(
      e =>
        (e.involvedObject as { kind: string; name: string }).kind === 'Alert',
    )
    .filter(e => (e.involvedObject as { name: string }).name === alertName)
    .map(e => ({
      type: e.type,
      reason: e.reason,
      message: e.message as string,
    }));
}

describe('Alert and Provider dispatch', () => {
  let store: KubeClusterStore;
  let controller: NotificationController;
  let gitlab: ReturnType<typeof fakeGitLab>;
  let server: FakeHttpServer;
  let providerUidPrefix: string;

  beforeEach(async () => {
    store = createTestStore();
    gitlab = fakeGitLab();
    server = await gitlab.start();
    store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitlab-token', namespace: NS },
      data: secretData({ token: TOKEN }),
    });
    const created = store.create(
      provider('gitlab', {
        type: 'gitlab',
        address: `${server.url}/group/app.git`,
        secretRef: { name: 'gitlab-token' },
      }),
    );
    providerUidPrefix = created.metadata.uid!.split('-')[0];
    store.create(alert('commit-status', 'gitlab'));
    store.create(kustomization('apps'));
    controller = startNotificationController({
      store,
      dispatchRetry: { baseDelayMs: 5 },
    });
  });

  afterEach(async () => {
    await controller.stop();
    await server.stop();
    store.close();
  });

  it('sets a GitLab commit status for the event revision, after checking existing ones', async () => {
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'Reconciliation finished in 1.2s, next run in 10m0s',
    });

    const delivery = await waitFor(
      () => controller.deliveries[0],
      'a delivery',
    );
    const expected = {
      sha: COMMIT,
      name: `kustomization/apps/${providerUidPrefix}`,
      status: 'success',
      description: 'reconciliation succeeded',
    };
    expect(gitlab.statuses).toEqual([expected]);
    expect(delivery).toMatchObject({
      alert: 'flux-system/commit-status',
      provider: 'flux-system/gitlab',
      providerType: 'gitlab',
      involvedObject: 'Kustomization/flux-system/apps',
      outcome: 'delivered',
      attempts: 1,
    });
    expect(server.requests.map(r => `${r.method} ${r.url}`)).toEqual([
      `GET /api/v4/projects/group%2Fapp/repository/commits/${COMMIT}/statuses?name=${encodeURIComponent(
        expected.name,
      )}`,
      `POST /api/v4/projects/group%2Fapp/statuses/${COMMIT}`,
    ]);
    expect(server.requests[1].headers['private-token']).toBe(TOKEN);
    expect(JSON.parse(server.requests[1].body)).toEqual({
      state: 'success',
      name: expected.name,
      description: 'reconciliation succeeded',
    });
  });

  it('does not post a status identical to an existing one', async () => {
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'finished in 1s',
    });
    await waitFor(() => controller.deliveries.length === 1, 'first delivery');
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'finished in 2s',
    });

    const second = await waitFor(
      () => controller.deliveries[1],
      'second delivery',
    );
    expect(second).toMatchObject({
      outcome: 'skipped',
      detail: 'identical commit status exists',
    });
    expect(gitlab.statuses).toHaveLength(1);
  });

  it('prefers the origin revision of OCI-backed objects and reports failures as failed', async () => {
    kustomizeEvent(store, kustomization('apps'), {
      type: 'Warning',
      reason: 'HealthCheckFailed',
      message: 'health check failed after 30s',
      metadata: {
        revision: `latest@sha256:${OCI_DIGEST}`,
        originRevision: `main@sha1:${OTHER_COMMIT}`,
      },
    });

    await waitFor(() => gitlab.statuses.length === 1, 'a status');
    expect(gitlab.statuses[0]).toMatchObject({
      sha: OTHER_COMMIT,
      status: 'failed',
      description: 'health check failed',
    });
  });

  it('skips progressing events and events that are not commit status updates', async () => {
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'Progressing',
      message: 'applying',
    });
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'Deployment/default/app configured',
      commitStatusUpdate: false,
    });

    await waitFor(() => controller.deliveries.length === 2, 'two deliveries');
    expect(
      controller.deliveries.map(d => [d.outcome, d.detail]).sort(),
    ).toEqual([
      [
        'skipped',
        'event dropped for commit status providers due to missing commit metadata key',
      ],
      ['skipped', 'progressing events are not reported'],
    ]);
    expect(gitlab.statuses).toHaveLength(0);
  });

  it('retries server errors with backoff and records a Warning Event when delivery fails', async () => {
    gitlab.failures.push(500, 503);
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'first',
    });
    expect(
      await waitFor(() => controller.deliveries[0], 'delivery'),
    ).toMatchObject({
      outcome: 'delivered',
      attempts: 3,
    });

    gitlab.failures.push(401);
    kustomizeEvent(store, kustomization('apps'), {
      type: 'Warning',
      reason: 'BuildFailed',
      message: 'second',
    });
    const failed = await waitFor(
      () => controller.deliveries[1],
      'failed delivery',
    );
    expect(failed).toMatchObject({ outcome: 'failed', attempts: 1 });
    expect(failed.detail).toBe(
      `unable to list commit status: GET ${server.url}/api/v4/projects/group/app/repository/commits/${COMMIT}/statuses: 401 {message: 401 failure}`,
    );
    expect(alertEvents(store, 'commit-status')).toContainEqual({
      type: 'Warning',
      reason: 'NotificationDispatchFailed',
      message: `failed to send notification for Kustomization/flux-system/apps: ${failed.detail}`,
    });
  });

  it('records a Warning Event when the Provider cannot be used', async () => {
    store.create(alert('missing-provider', 'nope'));
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'done',
    });

    await waitFor(
      () => alertEvents(store, 'missing-provider').length > 0,
      'warning event',
    );
    expect(alertEvents(store, 'missing-provider')[0]).toEqual({
      type: 'Warning',
      reason: 'NotificationDispatchFailed',
      message:
        'failed to dispatch notification for Kustomization/flux-system/apps: failed to read provider: providers.notification.toolkit.fluxcd.io "nope" not found',
    });
  });

  it('filters alerts by severity, labels, suspension and drops duplicate events', async () => {
    store.create(kustomization('labelled', { tier: 'frontend' }));
    store.create(kustomization('unlabelled'));
    store.create(
      provider('hook', { type: 'generic', address: `${server.url}/hook` }),
    );
    store.create(
      alert('errors-only', 'hook', {
        eventSeverity: 'error',
        eventSources: [
          {
            kind: 'Kustomization',
            name: '*',
            matchLabels: { tier: 'frontend' },
          },
        ],
      }),
    );
    store.create(alert('suspended', 'hook', { suspend: true }));
    const toHook = () => server.requests.filter(r => r.url === '/hook');

    const changeSet = {
      commitStatusUpdate: false,
      reason: 'BuildFailed',
      message: 'bad',
    };
    kustomizeEvent(store, kustomization('labelled'), {
      ...changeSet,
      reason: 'ReconciliationSucceeded',
      message: 'ok',
    });
    kustomizeEvent(store, kustomization('unlabelled'), {
      ...changeSet,
      type: 'Warning',
    });
    kustomizeEvent(store, kustomization('labelled'), {
      ...changeSet,
      type: 'Warning',
    });
    // The same event again only bumps the Event's count, and the rate limiter drops it.
    kustomizeEvent(store, kustomization('labelled'), {
      ...changeSet,
      type: 'Warning',
    });

    await waitFor(
      () => toHook().length === 1 && controller.deliveries.length >= 4,
      'the forwarded event',
    );
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(toHook()).toHaveLength(1);
    const forwarded = JSON.parse(toHook()[0].body);
    expect(forwarded).toMatchObject({
      involvedObject: {
        kind: 'Kustomization',
        namespace: NS,
        name: 'labelled',
      },
      severity: 'error',
      reason: 'BuildFailed',
      message: 'bad',
      metadata: { revision: `main@sha1:${COMMIT}` },
      reportingController: 'kustomize-controller',
    });
    expect(toHook()[0].headers['gotk-component']).toBe('kustomize-controller');
  });

  it('sends commit status updates to GitHub and other events signed to generic-hmac', async () => {
    store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'github-token', namespace: NS },
      data: secretData({ token: 'ghp_token' }),
    });
    store.create(
      provider('signed', {
        type: 'generic-hmac',
        address: `${server.url}/signed`,
        secretRef: { name: 'github-token' },
      }),
    );
    store.create(
      provider('github', {
        type: 'github',
        address: `${server.url}/owner/repo`,
        secretRef: { name: 'github-token' },
      }),
    );
    store.create(alert('signed', 'signed'));
    store.create(alert('github', 'github'));

    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'ok',
    });
    kustomizeEvent(store, kustomization('apps'), {
      reason: 'ReconciliationSucceeded',
      message: 'Deployment/default/app configured',
      commitStatusUpdate: false,
    });
    await waitFor(() => controller.deliveries.length === 6, 'six deliveries');
    expect(
      controller.deliveries
        .filter(d => d.outcome === 'delivered')
        .map(d => d.providerType)
        .sort(),
    ).toEqual(['generic-hmac', 'github', 'gitlab']);

    const signed = server.requests.find(r => r.url === '/signed')!;
    expect(signed.headers['x-signature']).toBe(
      `sha256=${createHmac('sha256', 'ghp_token')
        .update(signed.body)
        .digest('hex')}`,
    );
    const githubStatus = server.requests.find(
      r => r.method === 'POST' && r.url.startsWith('/api/v3/'),
    );
    expect(githubStatus?.url).toBe(
      `/api/v3/repos/owner/repo/statuses/${COMMIT}`,
    );
    expect(githubStatus?.headers.authorization).toBe('Bearer ghp_token');
    expect(JSON.parse(githubStatus!.body)).toMatchObject({
      state: 'success',
      description: 'reconciliation succeeded',
    });
  });
});
