import type { PrinterColumn } from './table';
/**
 * The contract between the simulated Kubernetes API server (src/kube) and everything
 * that runs "inside" a cluster (the Flux controllers in src/flux). Controllers use a
 * ClusterStore directly, in process, the way real controllers use the API: every write
 * bumps resourceVersion and is seen by watchers, status writes do not bump generation.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** One served (group, version, kind). Several versions of a kind share one storage. */
export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  /** Whether `/status` is a subresource (spec writes ignore status and vice versa). */
  statusSubresource: boolean;
  shortNames?: string[];
  /** Discovery categories (`kubectl get all` lists the `all` one), as the real API declares them. */
  categories?: string[];
  /** What `kubectl get` prints beside the name (a CRD's additionalPrinterColumns); default Age. */
  printerColumns?: PrinterColumn[];
  /** Throws an Error whose message names the invalid field (the API answers 422). */
  validate?(object: KubeObject): void;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

export interface ListOptions {
  namespace?: string;
  /** Kubernetes label selector syntax: `a=b,c!=d,e in (f,g),!h,i`. */
  labelSelector?: string;
  /** `metadata.name=x,metadata.namespace!=y` (and any dotted path on the object). */
  fieldSelector?: string;
}

export interface WatchOptions extends ListOptions {
  /** Start after this resourceVersion; older than the kept history → StoreError 410. */
  resourceVersion?: string;
  /** Deliver BOOKMARK events carrying the current resourceVersion. */
  allowBookmarks?: boolean;
}

/** Errors carry the HTTP status and reason the API server answers with. */
export class StoreError extends Error {
  constructor(
    readonly code: number,
    readonly reason:
      | 'NotFound'
      | 'AlreadyExists'
      | 'Conflict'
      | 'Invalid'
      | 'BadRequest'
      | 'Gone'
      | 'Forbidden'
      | 'MethodNotAllowed'
      | 'UnsupportedMediaType'
      | 'InternalError'
      | 'ServiceUnavailable',
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string },
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: 'status';
  /** `?dryRun=All`: validate and compute the result, write nothing. */
  dryRun?: boolean;
}

/** Keys are apiVersion ('v1', 'source.toolkit.fluxcd.io/v1') plus kind. */
export interface TypeRef {
  apiVersion: string;
  kind: string;
}

export interface ClusterStore {
  readonly clusterName: string;
  /** The served resource types (discovery is built from these). */
  types(): ResourceType[];
  findType(ref: TypeRef): ResourceType | undefined;

  get(
    ref: TypeRef,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined;
  list(
    ref: TypeRef,
    options?: ListOptions,
  ): { items: KubeObject[]; resourceVersion: string };
  /** Assigns uid, resourceVersion, generation 1, creationTimestamp. */
  create(object: KubeObject): KubeObject;
  /**
   * Replaces the object. With metadata.resourceVersion set it must match (else 409).
   * `subresource: 'status'` changes only `status`; otherwise `status` is kept as stored
   * when the type has a status subresource. generation bumps when spec (anything
   * outside metadata and status) changes.
   */
  update(object: KubeObject, options?: { subresource?: 'status' }): KubeObject;
  /** RFC 7386 JSON merge patch; `null` deletes a key. */
  mergePatch(
    ref: TypeRef,
    namespace: string | undefined,
    name: string,
    patch: Record<string, unknown>,
    options?: { subresource?: 'status' },
  ): KubeObject;
  /** Server-side apply: creates when missing; 409 on a field owned by another manager unless force. */
  apply(object: KubeObject, options: ApplyOptions): KubeObject;
  /** Deletes, then garbage-collects dependents whose ownerReferences point at it. */
  delete(ref: TypeRef, namespace: string | undefined, name: string): KubeObject;
  /** Returns an unsubscribe function. Events for versions of the same kind are converted to `ref.apiVersion`. */
  watch(
    ref: TypeRef,
    options: WatchOptions,
    listener: (event: WatchEvent) => void,
  ): () => void;
  /** The current resourceVersion of the whole cluster. */
  currentResourceVersion(): string;
}
