import { KustomizeBuildError } from './errors';
import type { TargetSelector } from './kustomizationFile';
import { isClusterScoped, type Resource, type ResourceName } from './resource';

type Requirement = (labels: Record<string, string>) => boolean;

const SET_REQUIREMENT = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const EQUALITY_REQUIREMENT = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/;
const ABSENCE_REQUIREMENT = /^!\s*([\w./-]+)$/;
const EXISTENCE_REQUIREMENT = /^([\w./-]+)$/;

function parseRequirement(part: string, selector: string): Requirement {
  const set = SET_REQUIREMENT.exec(part);
  if (set) {
    const [, key, operator, list] = set;
    const values = new Set(
      list
        .split(',')
        .map(v => v.trim())
        .filter(Boolean),
    );
    const isIn = (labels: Record<string, string>) =>
      key in labels && values.has(labels[key]);
    return operator === 'in' ? isIn : labels => !isIn(labels);
  }
  const equality = EQUALITY_REQUIREMENT.exec(part);
  if (equality) {
    const [, key, operator, value] = equality;
    return operator === '!='
      ? labels => labels[key] !== value
      : labels => labels[key] === value;
  }
  const absence = ABSENCE_REQUIREMENT.exec(part);
  if (absence) return labels => !(absence[1] in labels);
  const existence = EXISTENCE_REQUIREMENT.exec(part);
  if (existence) return labels => existence[1] in labels;
  throw new KustomizeBuildError(
    `unable to parse requirement: invalid label selector '${selector}'`,
  );
}

/** Parses a Kubernetes label selector: `a=b,c!=d,e in (f,g),h notin (i),j,!k`. */
export function parseLabelSelector(selector: string): Requirement[] {
  // Split on commas outside parentheses.
  const parts = selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  return parts
    .map(part => part.trim())
    .filter(Boolean)
    .map(part => parseRequirement(part, selector));
}

function anchored(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    throw new KustomizeBuildError(
      `invalid regex '${pattern}' in patch target: ${(error as Error).message}`,
    );
  }
}

/**
 * kustomize's target selection: group, version, kind, name and namespace are anchored
 * regular expressions; name and namespace may match the original or the current value.
 */
export function compileSelector(
  selector: TargetSelector,
): (resource: Resource) => boolean {
  const group =
    selector.group !== undefined && selector.group !== ''
      ? anchored(selector.group)
      : undefined;
  const version = selector.version ? anchored(selector.version) : undefined;
  const kind = selector.kind ? anchored(selector.kind) : undefined;
  const name = selector.name ? anchored(selector.name) : undefined;
  const namespace = selector.namespace
    ? anchored(selector.namespace)
    : undefined;
  const labels = selector.labelSelector
    ? parseLabelSelector(selector.labelSelector)
    : [];
  const annotations = selector.annotationSelector
    ? parseLabelSelector(selector.annotationSelector)
    : [];
  return resource => {
    const gvk = resource.gvk;
    if (group && !group.test(gvk.group)) return false;
    if (version && !version.test(gvk.version)) return false;
    if (kind && !kind.test(gvk.kind)) return false;
    const { original, current } = resource;
    // kustomize compares effective namespaces: a namespaced object without one is in 'default'.
    const effective = (id: ResourceName) =>
      id.namespace || (isClusterScoped(gvk) ? '' : 'default');
    if (
      namespace &&
      !namespace.test(effective(original)) &&
      !namespace.test(effective(current))
    ) {
      return false;
    }
    if (name && !name.test(original.name) && !name.test(current.name))
      return false;
    const resourceLabels = resource.labels();
    if (!labels.every(requirement => requirement(resourceLabels))) return false;
    const resourceAnnotations = resource.annotations();
    return annotations.every(requirement => requirement(resourceAnnotations));
  };
}
