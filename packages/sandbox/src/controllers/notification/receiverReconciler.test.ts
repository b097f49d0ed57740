import type { KubeClusterStore } from '../../kube/store';
import type { KubeObject } from '../../kube/types';
import type { Condition } from '../conditions';
import { RECEIVER, SECRET } from './apiRefs';
import { createEventRecorder } from './eventRecorder';
import { startReceiverReconciler } from './receiverReconciler';
import { createTestStore, secretData, waitFor } from './testEnv';

const NS = 'flux-system';

function receiver(
  name: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name, namespace: NS },
    spec: {
      type: 'generic',
      secretRef: { name: 'webhook-token' },
      resources: [{ kind: 'GitRepository', name: 'app' }],
      ...spec,
    },
  };
}

function secret(data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'webhook-token', namespace: NS },
    data: secretData(data),
  };
}

function status(store: KubeClusterStore, name: string) {
  return (store.get(RECEIVER, NS, name)?.status ?? {}) as {
    conditions?: Condition[];
    webhookPath?: string;
    observedGeneration?: number;
    lastHandledReconcileAt?: string;
  };
}

function condition(store: KubeClusterStore, name: string, type: string) {
  return status(store, name).conditions?.find(c => c.type === type);
}

function events(store: KubeClusterStore, name: string) {
  return store
    .list({ apiVersion: 'v1', kind: 'Event' }, { namespace: NS })
    .items.filter(e => (e.involvedObject as { name: string }).name === name)
    .map(e => ({ type: e.type, reason: e.reason, message: e.message }));
}

describe('Receiver reconciler', () => {
  let store: KubeClusterStore;
  let stop: () => void;

  beforeEach(() => {
    store = createTestStore();
    stop = startReceiverReconciler({
      store,
      recorder: createEventRecorder(store),
      retryBaseDelayMs: 20,
    }).stop;
  });

  afterEach(() => {
    stop();
    store.close();
  });

  it('sets webhookPath to /hook/ + sha256(token + name + namespace) and marks the Receiver Ready', async () => {
    store.create(secret({ token: 'my-token' }));
    store.create(receiver('recv'));

    const ready = await waitFor(
      () =>
        condition(store, 'recv', 'Ready')?.status === 'True' &&
        status(store, 'recv'),
      'Ready=True',
    );
    const expectedPath =
      '/hook/7ee14dd2eb03b83acd78e7ef196fa87f36f972df5411fa259bf3ec41d47615ed';
    expect(ready.webhookPath).toBe(expectedPath);
    expect(condition(store, 'recv', 'Ready')).toMatchObject({
      reason: 'Succeeded',
      message: `Receiver initialized for path: ${expectedPath}`,
      observedGeneration: 1,
    });
    expect(condition(store, 'recv', 'Reconciling')).toBeUndefined();
    expect(ready.observedGeneration).toBe(1);
    expect(store.get(RECEIVER, NS, 'recv')?.metadata.finalizers).toEqual([
      'finalizers.fluxcd.io',
    ]);
    expect(events(store, 'recv')).toContainEqual({
      type: 'Normal',
      reason: 'Succeeded',
      message: 'Reconciliation finished, next run in 10m0s',
    });
  });

  it('reports TokenNotFound until the Secret has a token, then recovers on the Secret change', async () => {
    store.create(receiver('recv'));

    await waitFor(
      () => condition(store, 'recv', 'Ready')?.reason === 'TokenNotFound',
      'TokenNotFound',
    );
    expect(condition(store, 'recv', 'Ready')).toMatchObject({
      status: 'False',
      message: `unable to read token from secret 'flux-system/webhook-token' error: secrets "webhook-token" not found`,
    });
    expect(condition(store, 'recv', 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'ProgressingWithRetry',
    });
    expect(status(store, 'recv').webhookPath).toBeUndefined();
    expect(events(store, 'recv')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'Failed' }),
    );

    store.create(secret({ other: 'value' }));
    await waitFor(
      () => condition(store, 'recv', 'Ready')?.message.startsWith('invalid '),
      'missing token key',
    );
    expect(condition(store, 'recv', 'Ready')).toMatchObject({
      reason: 'TokenNotFound',
      message: `invalid 'flux-system/webhook-token' secret data: required fields 'token'`,
    });

    store.mergePatch(SECRET, NS, 'webhook-token', {
      data: secretData({ token: 'now-there' }),
    });
    await waitFor(
      () => condition(store, 'recv', 'Ready')?.status === 'True',
      'Ready=True',
    );
    expect(status(store, 'recv').webhookPath).toMatch(/^\/hook\/[0-9a-f]{64}$/);
    expect(condition(store, 'recv', 'Reconciling')).toBeUndefined();
  });

  it('follows a token change and reconciles again every spec.interval', async () => {
    store.create(secret({ token: 'first' }));
    store.create(receiver('recv', { interval: '200ms' }));
    const firstPath = await waitFor(
      () => status(store, 'recv').webhookPath,
      'webhookPath',
    );

    store.mergePatch(SECRET, NS, 'webhook-token', {
      data: secretData({ token: 'second' }),
    });
    const secondPath = await waitFor(() => {
      const path = status(store, 'recv').webhookPath;
      return path !== firstPath && path;
    }, 'new webhookPath');

    // A status drift is not watched; only the interval brings the Receiver back.
    store.mergePatch(
      RECEIVER,
      NS,
      'recv',
      { status: { webhookPath: '/hook/stale' } },
      { subresource: 'status' },
    );
    await waitFor(
      () => status(store, 'recv').webhookPath === secondPath,
      'interval reconcile',
    );
    expect(secondPath).toMatch(/^\/hook\/[0-9a-f]{64}$/);
  });

  it('keeps the status of a suspended Receiver but records handled reconcile requests', async () => {
    store.create(secret({ token: 'first' }));
    store.create(receiver('recv'));
    const path = await waitFor(
      () => status(store, 'recv').webhookPath,
      'webhookPath',
    );

    store.mergePatch(RECEIVER, NS, 'recv', { spec: { suspend: true } });
    store.mergePatch(SECRET, NS, 'webhook-token', {
      data: secretData({ token: 'second' }),
    });
    store.mergePatch(RECEIVER, NS, 'recv', {
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' } },
    });

    await waitFor(
      () => status(store, 'recv').lastHandledReconcileAt === 'now',
      'lastHandledReconcileAt',
    );
    expect(status(store, 'recv').webhookPath).toBe(path);
    // Like the real patch step: a still-Ready object gets the new generation observed.
    expect(status(store, 'recv').observedGeneration).toBe(2);
  });

  it('removes its finalizer so a deleted Receiver goes away', async () => {
    store.create(secret({ token: 'first' }));
    store.create(receiver('recv'));
    await waitFor(
      () => store.get(RECEIVER, NS, 'recv')?.metadata.finalizers?.length,
      'finalizer',
    );

    store.delete(RECEIVER, NS, 'recv');
    await waitFor(
      () => store.get(RECEIVER, NS, 'recv') === undefined,
      'deletion',
    );
    expect(store.list(RECEIVER).items).toHaveLength(0);
  });
});
