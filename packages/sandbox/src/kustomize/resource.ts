import type { KubeObject } from '../kube/types';

export interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/** A name and namespace a resource has had; '' is "no namespace". */
export interface ResourceName {
  name: string;
  namespace: string;
}

export function gvkOf(object: KubeObject): Gvk {
  const apiVersion = object.apiVersion ?? '';
  const slash = apiVersion.lastIndexOf('/');
  return slash === -1
    ? { group: '', version: apiVersion, kind: object.kind }
    : {
        group: apiVersion.slice(0, slash),
        version: apiVersion.slice(slash + 1),
        kind: object.kind,
      };
}

/** kustomize's Gvk.String(): `Kind.version.group`. */
export function gvkString({ group, version, kind }: Gvk): string {
  return [kind || '[noKind]', version || '[noVer]', group || '[noGrp]'].join(
    '.',
  );
}

/** kustomize's ResId.String(): `Deployment.v1.apps/podinfo.default`. */
export function resIdString(
  gvk: Gvk,
  { name, namespace }: ResourceName,
): string {
  return `${gvkString(gvk)}/${name}.${namespace || '[noNs]'}`;
}

/** kustomize treats '' and 'default' as the same namespace when comparing ids. */
export function sameNamespace(a: string, b: string): boolean {
  return (a || 'default') === (b || 'default');
}

// The built-in cluster-scoped types kustomize knows from its OpenAPI data (group/kind).
const CLUSTER_SCOPED = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'apiregistration.k8s.io/APIService',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'scheduling.k8s.io/PriorityClass',
  'node.k8s.io/RuntimeClass',
  'networking.k8s.io/IngressClass',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'certificates.k8s.io/CertificateSigningRequest',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'policy/PodSecurityPolicy',
  'authentication.k8s.io/TokenReview',
  'authorization.k8s.io/SelfSubjectAccessReview',
  'authorization.k8s.io/SelfSubjectRulesReview',
  'authorization.k8s.io/SubjectAccessReview',
]);

export function isClusterScoped(gvk: Pick<Gvk, 'group' | 'kind'>): boolean {
  return CLUSTER_SCOPED.has(`${gvk.group}/${gvk.kind}`);
}

/**
 * One object of a build plus what kustomize tracks beside it: the ids it had before
 * (name references and patches may use any of them) and whether it gets a content hash.
 */
export class Resource {
  readonly previous: ResourceName[];

  constructor(
    public object: KubeObject,
    public needsHashSuffix = false,
    previous: ResourceName[] = [],
  ) {
    this.previous = previous;
  }

  get gvk(): Gvk {
    return gvkOf(this.object);
  }

  get name(): string {
    return this.object.metadata.name;
  }

  get namespace(): string {
    return this.object.metadata.namespace ?? '';
  }

  get current(): ResourceName {
    return { name: this.name, namespace: this.namespace };
  }

  get original(): ResourceName {
    return this.previous[0] ?? this.current;
  }

  /** Every id the resource has had, oldest first, ending with the current one. */
  allIds(): ResourceName[] {
    return [...this.previous, this.current];
  }

  idString(): string {
    return resIdString(this.gvk, this.current);
  }

  rename(change: Partial<ResourceName>): void {
    const next = { ...this.current, ...change };
    if (next.name === this.name && next.namespace === this.namespace) return;
    this.previous.push(this.current);
    this.object.metadata.name = next.name;
    if (next.namespace) this.object.metadata.namespace = next.namespace;
    else delete this.object.metadata.namespace;
  }

  labels(): Record<string, string> {
    return this.object.metadata.labels ?? {};
  }

  annotations(): Record<string, string> {
    return this.object.metadata.annotations ?? {};
  }
}
