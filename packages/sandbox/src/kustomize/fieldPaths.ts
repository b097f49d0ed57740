/**
 * kustomize's field specs: a path into an object, where `[]` steps into every element
 * of a list, restricted to some kinds, creating missing maps on the way when `create`.
 */
export interface FieldSpec {
  kinds?: string[];
  path: string[];
  create: boolean;
}

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Calls `visit` with every map the spec's path reaches in `object`. */
export function visitFieldSpec(
  object: Node,
  kind: string,
  spec: FieldSpec,
  visit: (map: Node) => void,
): void {
  if (spec.kinds && !spec.kinds.includes(kind)) return;
  walk(object, spec.path, spec.create, visit);
}

function walk(
  node: Node,
  path: string[],
  create: boolean,
  visit: (map: Node) => void,
): void {
  if (path.length === 0) {
    visit(node);
    return;
  }
  const [head, ...rest] = path;
  if (rest[0] === '[]') {
    const list = node[head];
    if (!Array.isArray(list)) return;
    for (const item of list)
      if (isNode(item)) walk(item, rest.slice(1), create, visit);
    return;
  }
  let child = node[head];
  if (child === undefined || child === null) {
    if (!create) return;
    child = {};
    node[head] = child;
  }
  if (isNode(child)) walk(child, rest, create, visit);
}

const spec = (
  kinds: string[] | undefined,
  path: string,
  create: boolean,
): FieldSpec => ({
  kinds,
  path: path.split('/'),
  create,
});

const WORKLOADS = ['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet'];
const POD_TEMPLATE_OWNERS = ['ReplicationController', ...WORKLOADS, 'Job'];

/** commonLabels / labels with includeSelectors: metadata, selectors and pod templates. */
export const LABEL_SELECTOR_SPECS: FieldSpec[] = [
  spec(['Service', 'ReplicationController'], 'spec/selector', true),
  spec(WORKLOADS, 'spec/selector/matchLabels', true),
  spec(['StatefulSet'], 'spec/volumeClaimTemplates/[]/metadata/labels', true),
  spec(['Job'], 'spec/selector/matchLabels', false),
  spec(['CronJob'], 'spec/jobTemplate/spec/selector/matchLabels', false),
  spec(['PodDisruptionBudget'], 'spec/selector/matchLabels', false),
  spec(['NetworkPolicy'], 'spec/podSelector/matchLabels', false),
  spec(
    ['NetworkPolicy'],
    'spec/ingress/[]/from/[]/podSelector/matchLabels',
    false,
  ),
  spec(
    ['NetworkPolicy'],
    'spec/egress/[]/to/[]/podSelector/matchLabels',
    false,
  ),
];

/** labels with includeTemplates (and included by includeSelectors). */
export const LABEL_TEMPLATE_SPECS: FieldSpec[] = [
  spec(POD_TEMPLATE_OWNERS, 'spec/template/metadata/labels', true),
  spec(['CronJob'], 'spec/jobTemplate/metadata/labels', true),
  spec(['CronJob'], 'spec/jobTemplate/spec/template/metadata/labels', true),
];

export const METADATA_LABELS: FieldSpec = spec(
  undefined,
  'metadata/labels',
  true,
);

/** commonAnnotations also reach pod templates, as in kustomize. */
export const ANNOTATION_SPECS: FieldSpec[] = [
  spec(undefined, 'metadata/annotations', true),
  spec(POD_TEMPLATE_OWNERS, 'spec/template/metadata/annotations', true),
  spec(['CronJob'], 'spec/jobTemplate/metadata/annotations', true),
  spec(
    ['CronJob'],
    'spec/jobTemplate/spec/template/metadata/annotations',
    true,
  ),
];

/** Where workloads keep their replica count. */
export const REPLICA_KINDS = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'ReplicationController',
];

/** The pod spec of each workload kind. */
export const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
