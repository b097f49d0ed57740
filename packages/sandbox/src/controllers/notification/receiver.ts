import { createHash } from 'node:crypto';
import type { IReceiverSpec } from '@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1';
import type { ClusterStore, KubeObject } from '../../kube/types';
import type { Condition } from '../conditions';
import { getSecret, secretValue } from './secrets';

export type ReceiverSpec = IReceiverSpec;

export interface ReceiverStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  lastHandledReconcileAt?: string;
  webhookPath?: string;
}

export const WEBHOOK_PATH_PREFIX = '/hook/';

export function receiverSpec(receiver: KubeObject): ReceiverSpec {
  return (receiver.spec ?? {}) as ReceiverSpec;
}

export function receiverStatus(receiver: KubeObject): ReceiverStatus {
  return (receiver.status ?? {}) as ReceiverStatus;
}

/** `/hook/` + lowercase hex sha256 of token, name and namespace concatenated. */
export function receiverWebhookPath(
  token: string,
  name: string,
  namespace: string,
): string {
  const digest = createHash('sha256')
    .update(`${token}${name}${namespace}`)
    .digest('hex');
  return `${WEBHOOK_PATH_PREFIX}${digest}`;
}

export type TokenLookup =
  | { ok: true; token: string }
  | { ok: false; error: string };

/** The Receiver's Secret `token` key, with the controller's error messages. */
export function readReceiverToken(
  store: ClusterStore,
  receiver: KubeObject,
): TokenLookup {
  const namespace = receiver.metadata.namespace ?? '';
  const secretName = receiverSpec(receiver).secretRef?.name ?? '';
  const qualifiedName = `${namespace}/${secretName}`;
  const lookup = getSecret(store, namespace, secretName);
  if (!lookup.found) {
    return {
      ok: false,
      error: `unable to read token from secret '${qualifiedName}' error: ${lookup.error}`,
    };
  }
  const token = secretValue(lookup.secret, 'token');
  if (token === undefined) {
    return {
      ok: false,
      error: `invalid '${qualifiedName}' secret data: required fields 'token'`,
    };
  }
  return { ok: true, token };
}
