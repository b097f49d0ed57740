import type { ClusterStore, KubeObject } from '../../kube/types';
import { SECRET } from './apiRefs';

export type SecretLookup =
  | { found: true; secret: KubeObject }
  | { found: false; error: string };

/** Reads a Secret, phrasing a miss the way the API server's NotFound reads. */
export function getSecret(
  store: ClusterStore,
  namespace: string,
  name: string,
): SecretLookup {
  const secret = store.get(SECRET, namespace, name);
  if (!secret) {
    return { found: false, error: `secrets "${name}" not found` };
  }
  return { found: true, secret };
}

/** A decoded `data` value; `stringData` is write-only in the real API, so it is never read. */
export function secretValue(
  secret: KubeObject,
  key: string,
): string | undefined {
  const data = secret.data as Record<string, string> | undefined;
  const encoded = data?.[key];
  return encoded === undefined
    ? undefined
    : Buffer.from(encoded, 'base64').toString('utf8');
}
