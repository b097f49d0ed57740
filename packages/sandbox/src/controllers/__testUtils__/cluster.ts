import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterStore, loadResourceTypes } from '../../kube';
import type { KubeClusterStore } from '../../kube';
import type { KubeObject, TypeRef } from '../../kube/types';
import {
  startFluxControllers,
  type FluxControllers,
  type StartFluxControllersOptions,
} from '..';
import { RECONCILE_REQUESTED_AT } from '../runtime';

export interface TestCluster {
  store: KubeClusterStore;
  flux: FluxControllers;
  dataDir: string;
  dispose(): Promise<void>;
}

/** A real store with the Flux controllers running against it, tuned for quick tests. */
export async function startTestCluster(
  options: Partial<StartFluxControllersOptions> = {},
): Promise<TestCluster> {
  const store = createClusterStore({
    clusterName: 'test',
    types: await loadResourceTypes(),
  });
  const dataDir = await mkdtemp(join(tmpdir(), 'controllers-test-'));
  const flux = await startFluxControllers({
    store,
    dataDir,
    deploymentReadyDelayMs: 50,
    healthCheckIntervalMs: 50,
    requeueDependencyMs: 30_000,
    minRetryDelayMs: 200,
    maxRetryDelayMs: 2_000,
    ...options,
  });
  return {
    store,
    flux,
    dataDir,
    async dispose() {
      await flux.stop();
      store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` returns a value (not undefined/false), or fails with the last state. */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  describe: () => unknown = () => undefined,
  timeoutMs = 4_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out; last state: ${JSON.stringify(describe(), null, 2)}`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

export interface ConditionView {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export function conditionOf(
  object: KubeObject | undefined,
  type: string,
): ConditionView | undefined {
  const conditions = (
    object?.status as { conditions?: ConditionView[] } | undefined
  )?.conditions;
  return conditions?.find(c => c.type === type);
}

/** Waits until `Ready` has the given status (and, when given, reason) and returns the object. */
export function waitForReady(
  store: KubeClusterStore,
  type: TypeRef,
  namespace: string,
  name: string,
  status: 'True' | 'False' = 'True',
  reason?: string,
  timeoutMs?: number,
): Promise<KubeObject> {
  return waitFor(
    () => {
      const object = store.get(type, namespace, name);
      const ready = conditionOf(object, 'Ready');
      return ready?.status === status && (!reason || ready.reason === reason)
        ? object
        : undefined;
    },
    () => store.get(type, namespace, name)?.status,
    timeoutMs,
  );
}

/** What `flux reconcile` does: sets requestedAt; returns the value to wait for. */
export function requestReconcile(
  store: KubeClusterStore,
  type: TypeRef,
  namespace: string,
  name: string,
  extraAnnotations: Record<string, string> = {},
): string {
  const requestedAt = new Date().toISOString().replace('Z', '000000Z');
  store.mergePatch(type, namespace, name, {
    metadata: {
      annotations: {
        [RECONCILE_REQUESTED_AT]: requestedAt,
        ...extraAnnotations,
      },
    },
  });
  return requestedAt;
}

export function eventsFor(
  store: KubeClusterStore,
  object: KubeObject,
): KubeObject[] {
  return store
    .list(
      { apiVersion: 'v1', kind: 'Event' },
      { namespace: object.metadata.namespace },
    )
    .items.filter(
      e =>
        (e as { involvedObject?: { name?: string; kind?: string } })
          .involvedObject?.name === object.metadata.name &&
        (e as { involvedObject?: { kind?: string } }).involvedObject?.kind ===
          object.kind,
    );
}
