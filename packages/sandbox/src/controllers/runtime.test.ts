import {
  createClusterStore,
  loadResourceTypes,
  type KubeClusterStore,
} from '../kube';
import type { KubeObject } from '../kube/types';
import { waitFor } from './__testUtils__/cluster';
import { recordEvent } from './events';
import {
  RECONCILE_REQUESTED_AT,
  startController,
  type Controller,
  type ReconcileOutcome,
} from './runtime';
import { startWorkloadController } from './workloads';

const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

async function newStore(): Promise<KubeClusterStore> {
  return createClusterStore({
    clusterName: 'runtime',
    types: await loadResourceTypes({ flux: false }),
  });
}

function configMap(
  name: string,
  data: Record<string, string> = {},
): KubeObject {
  return { ...CONFIGMAP, metadata: { name, namespace: 'default' }, data };
}

describe('startController', () => {
  let store: KubeClusterStore;
  let controller: Controller | undefined;
  const calls: string[] = [];

  beforeEach(async () => {
    store = await newStore();
    calls.length = 0;
  });

  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
    store.close();
  });

  function start(
    reconcile: (object: KubeObject) => Promise<ReconcileOutcome | void>,
    concurrency?: number,
  ) {
    controller = startController({
      store,
      type: CONFIGMAP,
      name: 'test',
      reconcile,
      concurrency,
      minRetryDelayMs: 20,
    });
    return controller;
  }

  it('reconciles on create, generation change, a new requestedAt and trigger, but not on other metadata changes', async () => {
    store.create(configMap('existing'));
    start(async object => {
      calls.push(`${object.metadata.name}@${object.metadata.generation}`);
    });
    await waitFor(() => calls.includes('existing@1'));
    store.create(configMap('new'));
    await waitFor(() => calls.includes('new@1'));
    store.mergePatch(CONFIGMAP, 'default', 'new', { data: { a: 'b' } });
    await waitFor(() => calls.includes('new@2'));
    store.mergePatch(CONFIGMAP, 'default', 'new', {
      metadata: { labels: { unrelated: 'x' } },
    });
    store.mergePatch(CONFIGMAP, 'default', 'new', {
      metadata: {
        annotations: { [RECONCILE_REQUESTED_AT]: '2024-01-01T00:00:00Z' },
      },
    });
    await waitFor(() => calls.filter(c => c === 'new@2').length === 2);
    controller!.trigger('default', 'new');
    await waitFor(() => calls.filter(c => c === 'new@2').length === 3);
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(calls.filter(c => c.startsWith('new@'))).toEqual([
      'new@1',
      'new@2',
      'new@2',
      'new@2',
    ]);
  });

  it('never runs one object twice at once, and runs once more when asked during a run', async () => {
    let running = 0;
    let maxRunning = 0;
    let release!: () => void;
    const gate = new Promise<void>(resolve => {
      release = resolve;
    });
    start(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      calls.push('run');
      if (calls.length === 1) await gate;
      running--;
    });
    store.create(configMap('busy'));
    await waitFor(() => calls.length === 1);
    controller!.trigger('default', 'busy');
    controller!.trigger('default', 'busy');
    controller!.trigger('default', 'busy');
    release();
    await waitFor(() => calls.length === 2);
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(calls).toHaveLength(2);
    expect(maxRunning).toBe(1);
  });

  it('bounds concurrency across objects', async () => {
    let running = 0;
    let maxRunning = 0;
    start(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise(resolve => setTimeout(resolve, 20));
      running--;
      calls.push('done');
    }, 2);
    for (let i = 0; i < 6; i++) store.create(configMap(`c${i}`));
    await waitFor(() => calls.length === 6);
    expect(maxRunning).toBe(2);
  });

  it('requeues after the interval and retries failures with backoff', async () => {
    let attempts = 0;
    start(async object => {
      calls.push(object.metadata.name);
      if (object.metadata.name === 'interval') return { requeueAfterMs: 30 };
      attempts++;
      if (attempts < 3) throw new Error('transient');
      return undefined;
    });
    store.create(configMap('interval'));
    await waitFor(() => calls.filter(c => c === 'interval').length >= 3);
    const stderr = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation(() => true);
    try {
      store.create(configMap('flaky'));
      await waitFor(() => attempts === 3);
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('transient'));
    } finally {
      stderr.mockRestore();
    }
    expect(calls.filter(c => c === 'interval').length).toBeGreaterThanOrEqual(
      3,
    );
  });

  it('stops: no reconciliation after stop resolves', async () => {
    start(async () => {
      calls.push('run');
      return { requeueAfterMs: 10 };
    });
    store.create(configMap('x'));
    await waitFor(() => calls.length >= 1);
    await controller!.stop();
    const count = calls.length;
    store.mergePatch(CONFIGMAP, 'default', 'x', { data: { changed: 'yes' } });
    await new Promise(resolve => setTimeout(resolve, 60));
    expect(calls.length).toBe(count);
  });
});

describe('recordEvent', () => {
  it('writes a core Event with group-prefixed metadata and aggregates repeats', async () => {
    const store = await newStore();
    const involved = store.create(configMap('subject'));
    const first = recordEvent(store, involved, {
      type: 'Normal',
      reason: 'Synced',
      message: 'all good',
      metadata: { revision: 'main@sha1:abc', 'custom.example.com/key': 'v' },
      reportingController: 'test-controller',
    })!;
    expect(first).toMatchObject({
      involvedObject: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: 'subject',
        namespace: 'default',
        uid: involved.metadata.uid,
      },
      source: { component: 'test-controller' },
      count: 1,
      // The core group has no prefix to add.
      metadata: {
        annotations: {
          revision: 'main@sha1:abc',
          'custom.example.com/key': 'v',
        },
      },
    });
    const again = recordEvent(store, involved, {
      type: 'Normal',
      reason: 'Synced',
      message: 'all good',
      reportingController: 'test-controller',
    })!;
    expect(again.metadata.name).toBe(first.metadata.name);
    expect(again).toMatchObject({
      count: 2,
      firstTimestamp: first.firstTimestamp,
    });
    recordEvent(store, involved, {
      type: 'Warning',
      reason: 'Failed',
      message: 'oops',
      reportingController: 'test-controller',
    });
    expect(
      store.list({ apiVersion: 'v1', kind: 'Event' }, { namespace: 'default' })
        .items,
    ).toHaveLength(2);
    store.close();
  });
});

describe('workload controller', () => {
  it('rolls a Deployment out: observed at once, available after the delay, again on a spec change', async () => {
    const store = await newStore();
    const workloads = startWorkloadController({ store, readyDelayMs: 100 });
    try {
      store.create({
        ...DEPLOYMENT,
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx:1' }] },
          },
        },
      });
      const progressing = await waitFor(() => {
        const status = store.get(DEPLOYMENT, 'default', 'web')?.status as
          | Record<string, unknown>
          | undefined;
        return status?.observedGeneration === 1 ? status : undefined;
      });
      expect(progressing).toMatchObject({
        replicas: 3,
        updatedReplicas: 3,
        availableReplicas: 0,
      });
      const ready = await waitFor(() => {
        const status = store.get(DEPLOYMENT, 'default', 'web')?.status as
          | Record<string, any>
          | undefined;
        return status?.availableReplicas === 3 ? status : undefined;
      });
      expect(ready.conditions).toEqual([
        expect.objectContaining({
          type: 'Available',
          status: 'True',
          reason: 'MinimumReplicasAvailable',
        }),
        expect.objectContaining({
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
        }),
      ]);
      store.mergePatch(DEPLOYMENT, 'default', 'web', { spec: { replicas: 1 } });
      await waitFor(() => {
        const status = store.get(DEPLOYMENT, 'default', 'web')?.status as
          | Record<string, unknown>
          | undefined;
        return (
          status?.observedGeneration === 2 && status.availableReplicas === 1
        );
      });
    } finally {
      await workloads.stop();
      store.close();
    }
  });
});
