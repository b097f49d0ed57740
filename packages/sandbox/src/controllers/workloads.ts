import { createHash } from 'node:crypto';
import type { ClusterStore, KubeObject } from '../kube/types';
import { kubeTime } from './conditions';
import {
  keyOfObject,
  objectKey,
  startController,
  type ReconcileOutcome,
} from './runtime';
import { writeOptions } from './status';

export const DEPLOYMENT_TYPE = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
} as const;

export interface WorkloadControllerOptions {
  store: ClusterStore;
  /** How long a rollout takes until the pods are ready. Default 1s. */
  readyDelayMs?: number;
}

export interface WorkloadController {
  stop(): Promise<void>;
}

interface DeploymentCondition {
  type: string;
  status: 'True' | 'False';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
}

const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The pod-template-hash the Deployment controller names its ReplicaSets with. */
function podTemplateHash(deployment: KubeObject): string {
  const template = JSON.stringify(
    (deployment.spec as { template?: unknown } | undefined)?.template ?? {},
  );
  const digest = createHash('sha256').update(template).digest();
  return Array.from(
    digest.subarray(0, 10),
    byte => HASH_ALPHABET[byte % HASH_ALPHABET.length],
  ).join('');
}

function condition(
  previous: DeploymentCondition[] | undefined,
  type: string,
  status: 'True' | 'False',
  reason: string,
  message: string,
): DeploymentCondition {
  const now = kubeTime();
  const old = previous?.find(c => c.type === type);
  return {
    type,
    status,
    lastUpdateTime:
      old && old.reason === reason && old.status === status
        ? old.lastUpdateTime
        : now,
    lastTransitionTime:
      old && old.status === status ? old.lastTransitionTime : now,
    reason,
    message,
  };
}

/**
 * A stand-in for the Deployment and ReplicaSet controllers and the kubelet: a new
 * generation is observed at once (rollout in progress, nothing available), and after
 * `readyDelayMs` every replica is ready and available — so kstatus and Flux health
 * checks see a Deployment roll out.
 */
export function startWorkloadController(
  options: WorkloadControllerOptions,
): WorkloadController {
  const { store } = options;
  const readyDelayMs = options.readyDelayMs ?? 1000;
  /** When the current rollout of each Deployment completes. */
  const readyAt = new Map<string, { generation: number; at: number }>();

  const writeStatus = (deployment: KubeObject, status: DeploymentStatus) => {
    const { resourceVersion: _resourceVersion, ...metadata } =
      deployment.metadata;
    store.update(
      { ...deployment, metadata, status },
      writeOptions('kube-controller-manager', 'status'),
    );
  };

  const reconcile = async (
    deployment: KubeObject,
  ): Promise<ReconcileOutcome> => {
    const key = keyOfObject(deployment);
    if (deployment.metadata.deletionTimestamp) return {};
    const generation = deployment.metadata.generation ?? 1;
    const replicas =
      (deployment.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const status = (deployment.status ?? {}) as DeploymentStatus;
    const replicaSet = `${deployment.metadata.name}-${podTemplateHash(
      deployment,
    )}`;

    let rollout = readyAt.get(key);
    if (!rollout || rollout.generation !== generation) {
      const done =
        status.observedGeneration === generation &&
        status.availableReplicas === replicas;
      rollout = {
        generation,
        at: done || replicas === 0 ? 0 : Date.now() + readyDelayMs,
      };
      readyAt.set(key, rollout);
    }
    const remaining = rollout.at - Date.now();
    if (remaining > 0) {
      if (
        status.observedGeneration !== generation ||
        status.updatedReplicas !== replicas
      ) {
        writeStatus(deployment, {
          observedGeneration: generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: 0,
          availableReplicas: 0,
          unavailableReplicas: replicas,
          conditions: [
            condition(
              status.conditions,
              'Available',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
            condition(
              status.conditions,
              'Progressing',
              'True',
              'ReplicaSetUpdated',
              `ReplicaSet "${replicaSet}" is progressing.`,
            ),
          ],
        });
      }
      return { requeueAfterMs: remaining };
    }
    if (
      status.observedGeneration !== generation ||
      status.availableReplicas !== replicas ||
      status.readyReplicas !== replicas
    ) {
      writeStatus(deployment, {
        observedGeneration: generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          condition(
            status.conditions,
            'Available',
            'True',
            'MinimumReplicasAvailable',
            'Deployment has minimum availability.',
          ),
          condition(
            status.conditions,
            'Progressing',
            'True',
            'NewReplicaSetAvailable',
            `ReplicaSet "${replicaSet}" has successfully progressed.`,
          ),
        ],
      });
    }
    return {};
  };

  const controller = startController({
    store,
    type: DEPLOYMENT_TYPE,
    name: 'deployment-controller',
    reconcile,
    onDeleted(key) {
      readyAt.delete(objectKey(key.namespace, key.name));
    },
  });
  return { stop: () => controller.stop() };
}
