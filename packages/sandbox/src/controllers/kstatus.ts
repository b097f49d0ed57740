import type { KubeObject } from '../kube/types';
import { conditionsOf } from './conditions';

export type KStatus =
  | 'InProgress'
  | 'Current'
  | 'Failed'
  | 'Terminating'
  | 'NotFound';

export interface KStatusResult {
  status: KStatus;
  message: string;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: Array<{
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }>;
}

function deploymentStatus(object: KubeObject): KStatusResult {
  const specReplicas =
    (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const status = (object.status ?? {}) as DeploymentStatus;
  const progressing = status.conditions?.find(c => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { status: 'Failed', message: 'Progress deadline exceeded' };
  }
  const updated = status.updatedReplicas ?? 0;
  const ready = status.readyReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < specReplicas) {
    return {
      status: 'InProgress',
      message: `Updated: ${updated}/${specReplicas}`,
    };
  }
  if ((status.replicas ?? 0) > updated) {
    return {
      status: 'InProgress',
      message: `Pending termination: ${(status.replicas ?? 0) - updated}`,
    };
  }
  if (available < specReplicas) {
    return {
      status: 'InProgress',
      message: `Available: ${available}/${specReplicas}`,
    };
  }
  if (ready < specReplicas) {
    return { status: 'InProgress', message: `Ready: ${ready}/${specReplicas}` };
  }
  return {
    status: 'Current',
    message: `Deployment is available. Replicas: ${specReplicas}`,
  };
}

/**
 * The kstatus computation (sigs.k8s.io/cli-utils, as Flux's health checks and `flux`
 * use it): deletion, observed generation, the Reconciling/Stalled conditions, and the
 * Deployment rollout rules.
 */
export function computeKStatus(object: KubeObject | undefined): KStatusResult {
  if (!object) return { status: 'NotFound', message: 'Resource not found' };
  if (object.metadata.deletionTimestamp) {
    return {
      status: 'Terminating',
      message: 'Resource scheduled for deletion',
    };
  }
  const observedGeneration = (
    object.status as { observedGeneration?: unknown } | undefined
  )?.observedGeneration;
  if (
    typeof observedGeneration === 'number' &&
    object.metadata.generation !== undefined &&
    observedGeneration !== object.metadata.generation
  ) {
    return {
      status: 'InProgress',
      message: `${object.kind} generation is ${object.metadata.generation}, but latest observed generation is ${observedGeneration}`,
    };
  }
  for (const condition of conditionsOf(object)) {
    if (condition.type === 'Reconciling' && condition.status === 'True') {
      return { status: 'InProgress', message: condition.message };
    }
    if (condition.type === 'Stalled' && condition.status === 'True') {
      return { status: 'Failed', message: condition.message };
    }
  }
  if (object.apiVersion === 'apps/v1' && object.kind === 'Deployment') {
    return deploymentStatus(object);
  }
  return { status: 'Current', message: 'Resource is current' };
}
