import { KustomizeBuildError } from './errors';
import {
  ANNOTATION_SPECS,
  type FieldSpec,
  LABEL_SELECTOR_SPECS,
  LABEL_TEMPLATE_SPECS,
  METADATA_LABELS,
  REPLICA_KINDS,
  visitFieldSpec,
} from './fieldPaths';
import type {
  ImageEntry,
  Kustomization,
  ReplicaEntry,
} from './kustomizationFile';
import { isClusterScoped, type Resource } from './resource';
import type { ResourceList } from './resourceList';

type Node = Record<string, unknown>;

function stringPairs(
  values: Record<string, unknown> | undefined,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values ?? {}).map(([key, value]) => [
      key,
      value === null ? '' : String(value),
    ]),
  );
}

function addPairs(
  resource: Resource,
  specs: FieldSpec[],
  pairs: Record<string, string>,
): void {
  if (Object.keys(pairs).length === 0) return;
  for (const spec of specs) {
    visitFieldSpec(resource.object, resource.gvk.kind, spec, map =>
      Object.assign(map, pairs),
    );
  }
}

const WEBHOOK_SERVICE_SPECS: FieldSpec[] = [
  {
    kinds: ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'],
    path: ['webhooks', '[]', 'clientConfig', 'service'],
    create: false,
  },
  {
    kinds: ['CustomResourceDefinition'],
    path: ['spec', 'conversion', 'webhook', 'clientConfig', 'service'],
    create: false,
  },
];

/** `namespace`: namespaced objects move, plus the subjects named "default" of role bindings. */
export function applyNamespace(
  list: ResourceList,
  namespace: string | undefined,
): void {
  if (!namespace) return;
  for (const resource of list.all()) {
    const { gvk } = resource;
    if (!isClusterScoped(gvk)) resource.rename({ namespace });
    if (gvk.kind === 'RoleBinding' || gvk.kind === 'ClusterRoleBinding') {
      const subjects = resource.object.subjects;
      if (Array.isArray(subjects)) {
        for (const subject of subjects as Node[]) {
          if (subject?.name === 'default') subject.namespace = namespace;
        }
      }
    }
    for (const spec of WEBHOOK_SERVICE_SPECS) {
      visitFieldSpec(resource.object, gvk.kind, spec, service => {
        if (service.namespace !== undefined) service.namespace = namespace;
      });
    }
  }
}

// kustomize never renames these.
const NOT_RENAMED = new Set([
  'CustomResourceDefinition',
  'APIService',
  'Namespace',
]);

export function applyNamePrefixSuffix(
  list: ResourceList,
  prefix = '',
  suffix = '',
): void {
  if (!prefix && !suffix) return;
  for (const resource of list.all()) {
    if (NOT_RENAMED.has(resource.gvk.kind)) continue;
    resource.rename({ name: `${prefix}${resource.name}${suffix}` });
  }
}

/** commonLabels, then each `labels` entry. */
export function applyLabels(list: ResourceList, k: Kustomization): void {
  const entries = [
    { pairs: stringPairs(k.commonLabels), selectors: true, templates: true },
    ...(k.labels ?? []).map(entry => ({
      pairs: stringPairs(entry.pairs),
      selectors: Boolean(entry.includeSelectors),
      templates: Boolean(entry.includeSelectors || entry.includeTemplates),
    })),
  ];
  for (const { pairs, selectors, templates } of entries) {
    const specs = [
      METADATA_LABELS,
      ...(selectors ? LABEL_SELECTOR_SPECS : []),
      ...(templates ? LABEL_TEMPLATE_SPECS : []),
    ];
    for (const resource of list.all()) addPairs(resource, specs, pairs);
  }
}

export function applyAnnotations(
  list: ResourceList,
  annotations: Record<string, unknown> | undefined,
): void {
  const pairs = stringPairs(annotations);
  for (const resource of list.all())
    addPairs(resource, ANNOTATION_SPECS, pairs);
}

export function applyReplicas(
  list: ResourceList,
  replicas: ReplicaEntry[] | undefined,
): void {
  for (const { name, count } of replicas ?? []) {
    if (!Number.isInteger(count) || count < 0) {
      throw new KustomizeBuildError(
        `replicas for '${name}' must be a non-negative integer, got ${count}`,
      );
    }
    for (const resource of list.all()) {
      if (!REPLICA_KINDS.includes(resource.gvk.kind)) continue;
      if (!resource.allIds().some(id => id.name === name)) continue;
      const spec = (resource.object.spec ??= {}) as Node;
      spec.replicas = count;
    }
  }
}

/** kustomize's image.Split: the tag is after the first ':' and the digest after '@', past any registry host. */
function splitImage(image: string): {
  name: string;
  tag?: string;
  digest?: string;
} {
  const slash = image.indexOf('/');
  const searchFrom = slash > 0 ? slash : 0;
  const search = image.slice(searchFrom);
  const at = search.indexOf('@');
  const colon = search.indexOf(':');
  if (at === -1 && colon === -1) return { name: image };
  if (at !== -1 && (colon === -1 || at < colon)) {
    return {
      name: image.slice(0, searchFrom + at),
      digest: image.slice(searchFrom + at + 1),
    };
  }
  const name = image.slice(0, searchFrom + colon);
  if (at !== -1) {
    return {
      name,
      tag: image.slice(searchFrom + colon + 1, searchFrom + at),
      digest: image.slice(searchFrom + at + 1),
    };
  }
  return { name, tag: image.slice(searchFrom + colon + 1) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function updateImage(value: string, entry: ImageEntry): string {
  const matches = new RegExp(
    `^${escapeRegExp(
      entry.name,
    )}(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$`,
  ).test(value);
  if (!matches) return value;
  let { name, tag, digest } = splitImage(value);
  if (entry.newName) name = entry.newName;
  if (entry.newTag !== undefined && entry.newTag !== '' && entry.digest) {
    tag = String(entry.newTag);
    digest = entry.digest;
  } else if (entry.newTag !== undefined && entry.newTag !== '') {
    tag = String(entry.newTag);
    digest = undefined;
  } else if (entry.digest) {
    digest = entry.digest;
    tag = undefined;
  }
  return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}

/** `images`: every `image` in any `containers` or `initContainers` list of any object. */
export function applyImages(
  list: ResourceList,
  images: ImageEntry[] | undefined,
): void {
  if (!images?.length) return;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node as Node)) {
      if (
        (key === 'containers' || key === 'initContainers') &&
        Array.isArray(value)
      ) {
        for (const container of value as Node[]) {
          if (typeof container?.image !== 'string') continue;
          for (const entry of images)
            container.image = updateImage(container.image as string, entry);
        }
      }
      visit(value);
    }
  };
  for (const resource of list.all()) visit(resource.object);
}
