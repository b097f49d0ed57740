import type { ClusterStore, KubeObject, TypeRef } from '../../kube/types';
import { groupOf, RECONCILE_REQUEST_ANNOTATION } from './apiRefs';
import { rfc3339NanoNow } from './clock';

export interface ResourceReference {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  matchLabels?: Record<string, string>;
}

/** Kinds a Receiver may list without an apiVersion (the controller's apiVersionMap). */
const DEFAULT_API_VERSIONS: Record<string, string> = {
  Bucket: 'source.toolkit.fluxcd.io/v1',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  HelmChart: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  OCIRepository: 'source.toolkit.fluxcd.io/v1',
  ImageRepository: 'image.toolkit.fluxcd.io/v1',
};

/** Go's `%q` of a map[string]string: `map["a":"b" "c":"d"]`, keys sorted. */
function quotedLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1,
  );
  return `map[${entries
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(' ')}]`;
}

function notFound(store: ClusterStore, ref: TypeRef, name: string): string {
  const plural = store.findType(ref)?.plural ?? ref.kind;
  const group = groupOf(ref.apiVersion);
  return `${group ? `${plural}.${group}` : plural} "${name}" not found`;
}

/** The RESTMapper's error for a kind the cluster does not serve. */
function noMatchesForKind(ref: TypeRef): string {
  return `no matches for kind "${ref.kind}" in version "${ref.apiVersion}"`;
}

function annotate(
  store: ClusterStore,
  ref: TypeRef,
  object: KubeObject,
): string | undefined {
  const { name, namespace } = object.metadata;
  try {
    store.mergePatch(ref, namespace, name, {
      metadata: {
        annotations: { [RECONCILE_REQUEST_ANNOTATION]: rfc3339NanoNow() },
      },
    });
    return undefined;
  } catch (error) {
    return `unable to annotate ${ref.kind} '${namespace}/${name}' error: ${
      (error as Error).message
    }`;
  }
}

/**
 * The receiver server's requestReconciliation: merge-patches `reconcile.fluxcd.io/requestedAt`
 * on the referenced object, or on every object of the kind matching `matchLabels` when the
 * name is `*`. Returns the error text, or undefined on success.
 */
export function requestReconciliation(
  store: ClusterStore,
  resource: ResourceReference,
  receiverNamespace: string,
  noCrossNamespaceRefs: boolean,
): string | undefined {
  let namespace = receiverNamespace;
  if (resource.namespace) {
    if (noCrossNamespaceRefs && resource.namespace !== receiverNamespace) {
      return 'cross-namespace references are not allowed';
    }
    namespace = resource.namespace;
  }
  const apiVersion = resource.apiVersion || DEFAULT_API_VERSIONS[resource.kind];
  if (!apiVersion) {
    return `apiVersion must be specified for kind '${resource.kind}'`;
  }
  const ref: TypeRef = { apiVersion, kind: resource.kind };
  const served = store.findType(ref) !== undefined;

  if (resource.name === '*') {
    const labels = resource.matchLabels ?? {};
    if (!served) {
      return `failed listing resources in namespace ${JSON.stringify(
        namespace,
      )} by matching labels ${quotedLabels(labels)}: ${noMatchesForKind(ref)}`;
    }
    const labelSelector = Object.entries(labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const { items } = store.list(ref, {
      namespace,
      labelSelector: labelSelector || undefined,
    });
    if (items.length === 0) {
      return `no ${
        resource.kind
      } objects found in '${namespace}' matching labels ${quotedLabels(
        labels,
      )}`;
    }
    for (const item of items) {
      const error = annotate(store, ref, item);
      if (error) {
        return `failed to annotate resource: '${resource.kind}/${item.metadata.name}.${namespace}': ${error}`;
      }
    }
    return undefined;
  }

  const object = served ? store.get(ref, namespace, resource.name) : undefined;
  if (!object) {
    const reason = served
      ? notFound(store, ref, resource.name)
      : noMatchesForKind(ref);
    return `unable to read ${resource.kind} '${namespace}/${resource.name}' error: ${reason}`;
  }
  return annotate(store, ref, object);
}
