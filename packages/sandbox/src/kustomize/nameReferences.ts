import { KustomizeBuildError } from './errors';
import { POD_SPEC_PATHS } from './fieldPaths';
import { type Resource, isClusterScoped, sameNamespace } from './resource';
import type { ResourceList } from './resourceList';

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A field in a referrer holding the name of another object. */
interface Reference {
  kind: string;
  holder: Node;
  field: string;
  /** For RBAC subjects: the namespace field that moves with the referenced ServiceAccount. */
  namespaceField?: string;
}

function nodesAt(root: unknown, path: string[]): Node[] {
  let current: unknown[] = [root];
  for (const segment of path) {
    const next: unknown[] = [];
    for (const node of current) {
      if (!isNode(node)) continue;
      const child = node[segment];
      if (Array.isArray(child)) next.push(...child);
      else if (child !== undefined) next.push(child);
    }
    current = next;
  }
  return current.filter(isNode);
}

function podSpecReferences(podSpec: Node): Reference[] {
  const refs: Reference[] = [];
  const add = (kind: string, holders: Node[], field: string) => {
    for (const holder of holders) refs.push({ kind, holder, field });
  };
  add('ServiceAccount', [podSpec], 'serviceAccountName');
  add('ServiceAccount', [podSpec], 'serviceAccount');
  add('PriorityClass', [podSpec], 'priorityClassName');
  add('Secret', nodesAt(podSpec, ['imagePullSecrets']), 'name');
  add('ConfigMap', nodesAt(podSpec, ['volumes', 'configMap']), 'name');
  add('Secret', nodesAt(podSpec, ['volumes', 'secret']), 'secretName');
  add(
    'PersistentVolumeClaim',
    nodesAt(podSpec, ['volumes', 'persistentVolumeClaim']),
    'claimName',
  );
  add(
    'ConfigMap',
    nodesAt(podSpec, ['volumes', 'projected', 'sources', 'configMap']),
    'name',
  );
  add(
    'Secret',
    nodesAt(podSpec, ['volumes', 'projected', 'sources', 'secret']),
    'name',
  );
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    add(
      'ConfigMap',
      nodesAt(podSpec, [list, 'env', 'valueFrom', 'configMapKeyRef']),
      'name',
    );
    add(
      'Secret',
      nodesAt(podSpec, [list, 'env', 'valueFrom', 'secretKeyRef']),
      'name',
    );
    add(
      'ConfigMap',
      nodesAt(podSpec, [list, 'envFrom', 'configMapRef']),
      'name',
    );
    add('Secret', nodesAt(podSpec, [list, 'envFrom', 'secretRef']), 'name');
  }
  return refs;
}

/** The name references kustomize's nameReference config knows, found in one object. */
function referencesIn(resource: Resource): Reference[] {
  const { object } = resource;
  const { kind } = resource.gvk;
  const refs: Reference[] = [];
  const podSpecPath = POD_SPEC_PATHS[kind];
  if (podSpecPath) {
    for (const podSpec of nodesAt(object, podSpecPath))
      refs.push(...podSpecReferences(podSpec));
  }
  if (kind === 'StatefulSet') {
    refs.push(
      ...nodesAt(object, ['spec']).map(holder => ({
        kind: 'Service',
        holder,
        field: 'serviceName',
      })),
    );
  }
  if (kind === 'Ingress') {
    for (const holder of [
      ...nodesAt(object, [
        'spec',
        'rules',
        'http',
        'paths',
        'backend',
        'service',
      ]),
      ...nodesAt(object, ['spec', 'defaultBackend', 'service']),
    ]) {
      refs.push({ kind: 'Service', holder, field: 'name' });
    }
    for (const holder of nodesAt(object, ['spec', 'tls']))
      refs.push({ kind: 'Secret', holder, field: 'secretName' });
  }
  if (kind === 'ServiceAccount') {
    for (const holder of [
      ...nodesAt(object, ['secrets']),
      ...nodesAt(object, ['imagePullSecrets']),
    ]) {
      refs.push({ kind: 'Secret', holder, field: 'name' });
    }
  }
  if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
    for (const holder of nodesAt(object, ['roleRef'])) {
      if (typeof holder.kind === 'string')
        refs.push({ kind: holder.kind, holder, field: 'name' });
    }
    for (const holder of nodesAt(object, ['subjects'])) {
      if (holder.kind === 'ServiceAccount') {
        refs.push({
          kind: 'ServiceAccount',
          holder,
          field: 'name',
          namespaceField: 'namespace',
        });
      }
    }
  }
  if (kind === 'HorizontalPodAutoscaler') {
    for (const holder of nodesAt(object, ['spec', 'scaleTargetRef'])) {
      if (typeof holder.kind === 'string')
        refs.push({ kind: holder.kind, holder, field: 'name' });
    }
  }
  return refs;
}

/**
 * After names changed (prefixes, suffixes, hashes), points every reference that uses
 * any earlier name of an object in the build at its current name, like kustomize's
 * FixBackReferences. Namespaced targets must be in the referrer's namespace.
 */
export function fixNameReferences(list: ResourceList): void {
  const resources = list.all();
  for (const referrer of resources) {
    for (const ref of referencesIn(referrer)) {
      const value = ref.holder[ref.field];
      if (typeof value !== 'string' || value === '') continue;
      const wantedNamespace =
        ref.namespaceField && typeof ref.holder[ref.namespaceField] === 'string'
          ? (ref.holder[ref.namespaceField] as string)
          : undefined;
      const candidates = resources.filter(candidate => {
        if (candidate.gvk.kind !== ref.kind) return false;
        const ids = candidate.allIds();
        if (!ids.some(id => id.name === value)) return false;
        if (isClusterScoped(candidate.gvk)) return true;
        if (wantedNamespace !== undefined) {
          return ids.some(
            id =>
              id.name === value && sameNamespace(id.namespace, wantedNamespace),
          );
        }
        return sameNamespace(candidate.namespace, referrer.namespace);
      });
      if (candidates.length > 1) {
        const current = candidates.filter(
          candidate => candidate.name === value,
        );
        if (current.length === 1) continue;
        throw new KustomizeBuildError(
          `found multiple possible referrals: ${candidates
            .map(c => c.idString())
            .join(', ')} for name '${value}' in ${referrer.idString()}`,
        );
      }
      const [target] = candidates;
      if (!target) continue;
      ref.holder[ref.field] = target.name;
      if (ref.namespaceField && target.namespace)
        ref.holder[ref.namespaceField] = target.namespace;
    }
  }
}
