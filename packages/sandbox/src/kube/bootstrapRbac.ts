import type { KubeObject } from './types';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];

/** Workloads and configuration, as the real `view` role lists them (secrets left out). */
const VIEWABLE: Array<Omit<Rule, 'verbs'>> = [
  {
    apiGroups: [''],
    resources: [
      'configmaps',
      'endpoints',
      'events',
      'persistentvolumeclaims',
      'pods',
      'pods/log',
      'pods/status',
      'replicationcontrollers',
      'services',
      'serviceaccounts',
    ],
  },
  {
    apiGroups: ['apps'],
    resources: [
      'daemonsets',
      'deployments',
      'deployments/scale',
      'replicasets',
      'statefulsets',
    ],
  },
  { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'] },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses', 'networkpolicies'],
  },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'] },
  // Flux's own `flux-view` / `flux-edit` ClusterRoles aggregate into view / edit / admin.
  {
    apiGroups: [
      'source.toolkit.fluxcd.io',
      'kustomize.toolkit.fluxcd.io',
      'helm.toolkit.fluxcd.io',
      'notification.toolkit.fluxcd.io',
    ],
    resources: ['*'],
  },
];

const viewRules: Rule[] = [
  ...VIEWABLE.map(rule => ({ ...rule, verbs: READ })),
  { apiGroups: [''], resources: ['namespaces'], verbs: READ },
];

const editRules: Rule[] = [
  ...VIEWABLE.map(rule => ({ ...rule, verbs: [...READ, ...WRITE] })),
  { apiGroups: [''], resources: ['secrets'], verbs: [...READ, ...WRITE] },
  { apiGroups: [''], resources: ['namespaces'], verbs: READ },
  {
    apiGroups: [''],
    resources: ['serviceaccounts/token'],
    verbs: ['create'],
  },
];

const adminRules: Rule[] = [
  ...editRules,
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['roles', 'rolebindings'],
    verbs: [...READ, ...WRITE],
  },
  {
    apiGroups: ['authorization.k8s.io'],
    resources: ['localsubjectaccessreviews'],
    verbs: ['create'],
  },
];

function clusterRole(name: string, rules: Rule[]): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {
      name,
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
    },
    rules,
  };
}

/**
 * The user-facing roles every real cluster bootstraps (kube-apiserver's bootstrappolicy),
 * and the binding of `cluster-admin` to `system:masters`.
 *
 * `cluster-admin` is exact. On a real cluster `admin`, `edit` and `view` are aggregated
 * ClusterRoles (their rules collected from every ClusterRole labelled
 * `rbac.authorization.k8s.io/aggregate-to-…`); the sandbox does not aggregate, so here they
 * are written out as an approximation of the aggregated result: the namespaced workload and
 * configuration kinds, the Flux kinds (which Flux's own `flux-view`/`flux-edit` roles
 * aggregate into them), Secrets from `edit` on, Roles and RoleBindings in `admin` only.
 * Bound with a RoleBinding they grant these rules in that namespace only, as on a cluster.
 */
export const BOOTSTRAP_RBAC: readonly KubeObject[] = [
  clusterRole('cluster-admin', [
    { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
  ]),
  clusterRole('admin', adminRules),
  clusterRole('edit', editRules),
  clusterRole('view', viewRules),
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: {
      name: 'cluster-admin',
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
    },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'cluster-admin',
    },
    subjects: [
      {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Group',
        name: 'system:masters',
      },
    ],
  },
];
