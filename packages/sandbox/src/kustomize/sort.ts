import type { Gvk, Resource } from './resource';

// kustomize's legacy sort order (SortOrderTransformer defaults).
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const ORDER_LAST = [
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];

const RANK = new Map<string, number>([
  ...ORDER_FIRST.map((kind, index): [string, number] => [
    kind,
    index - ORDER_FIRST.length,
  ]),
  ...ORDER_LAST.map((kind, index): [string, number] => [kind, index + 1]),
]);

const legacyGvkString = ({ group, version, kind }: Gvk) =>
  [group || '~G', version || '~V', kind || '~K'].join('_');

const gvkString = ({ group, version, kind }: Gvk) =>
  [kind || '[noKind]', version || '[noVer]', group || '[noGrp]'].join('.');

const legacyIdString = (resource: Resource) =>
  [
    gvkString(resource.gvk),
    resource.namespace || '~X',
    resource.name || '~N',
  ].join('|');

const compareStrings = (a: string, b: string) => (a < b ? -1 : Number(a > b));

/** kustomize's legacy order: by kind priority, then group/version/kind, then namespace and name. */
export function legacySort(resources: Resource[]): Resource[] {
  return [...resources].sort((a, b) => {
    const gvkA = a.gvk;
    const gvkB = b.gvk;
    const sameGvk =
      gvkA.group === gvkB.group &&
      gvkA.version === gvkB.version &&
      gvkA.kind === gvkB.kind;
    if (!sameGvk) {
      const rankA = RANK.get(gvkA.kind) ?? 0;
      const rankB = RANK.get(gvkB.kind) ?? 0;
      if (rankA !== rankB) return rankA - rankB;
      return compareStrings(legacyGvkString(gvkA), legacyGvkString(gvkB));
    }
    return compareStrings(legacyIdString(a), legacyIdString(b));
  });
}
