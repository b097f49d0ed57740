import { DeliveryRepositoryKind } from './repositoryUrl';

/**
 * The GitOps REST API's shapes, shared by the backend that serves them and the
 * frontend that reads them.
 */

/** How `flux` decides an object is settled (kstatus). */
export type KStatus = 'Current' | 'InProgress' | 'Failed' | 'Terminating';

/** A Kubernetes Event about a Flux object. */
export interface FluxEventItem {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastSeen?: string;
}

/** One Flux object as the entity's status shows it. */
export interface FluxStatusItem {
  kind: FluxKind;
  name: string;
  namespace: string;
  kstatus: KStatus;
  /** The `Ready` condition; `Unknown` when the object has none yet. */
  ready: {
    status: 'True' | 'False' | 'Unknown';
    reason?: string;
    message?: string;
  };
  suspended: boolean;
  interval?: string;
  lastHandledReconcileAt?: string;
  /** A source's `status.artifact.revision`, e.g. `main@sha1:<sha>`. */
  artifactRevision?: string;
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  /** The Git revision behind an OCI artifact. */
  originRevision?: string;
  /** Inventory ids, `<ns>_<name>_<group>_<kind>`. */
  inventory?: string[];
  dependsOn?: Array<{ name: string; namespace: string }>;
  /** The latest events, newest first. */
  events: FluxEventItem[];
  /** Commits on the followed branch the source's artifact is behind (Git sources on a known host). */
  commitsBehind?: number;
}

/** A source and the Kustomizations and HelmReleases that apply its artifact. */
export interface FluxChain {
  source: FluxStatusItem;
  consumers: FluxStatusItem[];
}

export interface ClusterStatus {
  name: string;
  /** The data comes from a cache that may be out of date (cluster unreachable, watch down). */
  stale: boolean;
  staleSince?: string;
  /** Why the cluster's data is stale. */
  error?: string;
  chains: FluxChain[];
  /** Objects labelled with the entity's `backstage.io/kubernetes-id` that belong to no chain. */
  kubernetesIdObjects: FluxStatusItem[];
  /**
   * How many objects of the entity were left out because they are claimed also by an
   * entity the caller may not read (see docs/security.md, "Whose objects are these").
   */
  hiddenObjects?: number;
}

export interface HeadCommit {
  sha: string;
  title: string;
  createdAt: string;
  webUrl: string;
}

export interface RepositoryStatus {
  url: string;
  kind: DeliveryRepositoryKind;
  branch?: string;
  headCommit?: HeadCommit;
  /** Why the Git host could not be read; the rest of the status is still served. */
  error?: string;
}

/** `GET /entities/:kind/:namespace/:name/status`. */
export interface EntityStatus {
  entityRef: string;
  clusters: ClusterStatus[];
  repositories: RepositoryStatus[];
}

/** The Flux kinds the actions work on. */
export type FluxKind =
  | 'GitRepository'
  | 'OCIRepository'
  | 'Bucket'
  | 'HelmRepository'
  | 'HelmChart'
  | 'Kustomization'
  | 'HelmRelease'
  | 'Receiver';

/** One Flux object on one cluster. */
export interface FluxObjectRef {
  kind: FluxKind;
  namespace: string;
  name: string;
}

/** One thing that happened while an action ran, as the UI shows it. */
export interface OperationStep {
  type: 'requested' | 'fetched' | 'applied' | 'ready' | 'failed' | 'suspended';
  /** ISO timestamp. */
  at: string;
  object: FluxObjectRef;
  /** `fetched`: the source's artifact revision; `applied`: the last applied revision. */
  revision?: string;
  message?: string;
  /** `requested`: the annotation value written. */
  requestedAt?: string;
  /** `requested`: `lastHandledReconcileAt` before the request, to wait for it to move after a restart. */
  previousHandledAt?: string;
}

export type OperationAction = 'reconcile' | 'suspend' | 'resume';
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

/** What asking for an action needs; the rest is the store's and the runner's. */
export interface OperationInput {
  entityRef: string;
  cluster: string;
  target: FluxObjectRef;
  action: OperationAction;
  withSource: boolean;
  /** The user entity ref of who asked. */
  requestedBy: string;
}

/** A Flux action and its progress. */
export interface Operation extends OperationInput {
  id: string;
  status: OperationStatus;
  steps: OperationStep[];
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** From the request to the outcome. */
  durationMs?: number;
}

/** One action taken on a Flux object, as the audit trail keeps it. */
export interface AuditRecord {
  id: string;
  /** The user entity ref of who asked. */
  actor: string;
  entityRef: string;
  cluster: string;
  target: FluxObjectRef;
  action: OperationAction;
  outcome: 'succeeded' | 'failed';
  message?: string;
  operationId?: string;
  /** When the action was asked for (ISO). */
  at: string;
  durationMs: number;
}

/** A Flux Receiver the GitOps backend manages for a source (its token is never kept). */
export interface ManagedReceiver {
  cluster: string;
  namespace: string;
  /** The Receiver's name. */
  name: string;
  source: { kind: 'GitRepository' | 'OCIRepository'; name: string };
  /** The source's repository, normalized (see `parseRepositoryUrl`). */
  repository: string;
  createdAt: string;
  updatedAt: string;
  lastTriggeredAt?: string;
  /** How the last trigger ended: the receiver answered, the fallback annotation was used, or both failed. */
  lastResult?: 'succeeded' | 'fallback' | 'failed';
  lastMessage?: string;
}

/** What a credential Flux uses is, as matched on the Git host. */
export type TokenKind =
  | 'deploy-token'
  | 'deploy-key'
  | 'project-access-token'
  | 'group-access-token'
  | 'personal-access-token'
  | 'unknown';

/** Where a credential is used: one key of one Secret, referenced by one Flux object. */
export interface TokenUsage {
  cluster: string;
  namespace: string;
  secret: string;
  /** The Secret's key(s) holding it, e.g. `password` or `.dockerconfigjson`. */
  key: string;
  /** How the Secret holds it. */
  format: 'basic-auth' | 'bearer-token' | 'token' | 'ssh-key' | 'docker-config';
  object: { kind: string; name: string };
  /** The normalized URL the object uses it for (a source's URL, a Provider's address). */
  repository?: string;
  /** `read`: a source pulls with it; `commit-status`: a Provider posts with it. */
  purpose: 'read' | 'commit-status';
}

/**
 * One credential Flux uses, with what the Git host knows of it. Only metadata and a
 * SHA-256 fingerprint of the value are kept, never the value.
 */
export interface TokenRecord {
  /** Stable id, for the API. */
  id: string;
  kind: TokenKind;
  /** The Git host it belongs to (host name as in the integration). */
  host?: string;
  /** The Git host's id of it (deploy token, key or access token id). */
  hostId?: string;
  /** Where it lives on the Git host: a project or group path, or a user id. */
  owner?: { type: 'project' | 'group' | 'user'; path: string };
  name?: string;
  /** The username it authenticates as (deploy token or bot user), when known. */
  username?: string;
  scopes?: string[];
  /** Deploy keys: whether it may push. */
  canPush?: boolean;
  /** YYYY-MM-DD or ISO, as the Git host says. */
  expiresAt?: string;
  createdAt?: string;
  /** When the backend last rotated it. */
  lastRotatedAt?: string;
  /** `sha256:<hex>` of the value (the public key blob for SSH keys). */
  fingerprint: string;
  /** Normalized URLs of the repositories it is used for. */
  repositories: string[];
  /** Git host projects it is used for (`team/delivery`). */
  projects: string[];
  /** Entities whose delivery repositories use it. */
  entityRefs: string[];
  usages: TokenUsage[];
  /** When the inventory last saw it in use. */
  lastSeenAt: string;
}

/**
 * A Secret Flux objects use that the backend may not read (typically: no RoleBinding of
 * `backstage-gitops-flux-namespace` in its namespace), so its credential is missing from
 * the inventory.
 */
export interface UnreadableSecret {
  cluster: string;
  namespace: string;
  secret: string;
  /** The Flux objects in that namespace that use it. */
  usedBy: Array<{ kind: string; name: string }>;
  /** Why it could not be read, and what to do about it. */
  reason: string;
  lastSeenAt: string;
}

/** One thing the token report flags, with what to do about it. */
export interface TokenFinding {
  tokenId: string;
  severity: 'critical' | 'warning';
  type:
    | 'expired'
    | 'expiring'
    | 'write-access'
    | 'api-scope'
    | 'personal-token'
    | 'shared'
    | 'unknown-secret';
  message: string;
  recommendation: string;
}

/**
 * `POST /flux/bootstrap`: wire a delivery repository to Flux on some clusters — register
 * it for an entity, and on each cluster create its source, a Kustomization per path and,
 * for a repository on a configured GitLab, a least-privilege read credential.
 */
export interface FluxBootstrapRequest {
  entityRef: string;
  /** Git (`https://`) or OCI (`oci://`) URL of the delivery repository. */
  url: string;
  /** The branch (Git, default `main`) or tag (OCI, default `latest`) to follow. */
  ref?: string;
  /**
   * Each cluster and the path in the repository its Kustomization applies; `namespace`,
   * when given, must be the tenant namespace the platform mapped the entity's owner to
   * there (`gitops.tenancy.tenants`), or the Flux namespace with `privileged`.
   */
  clusters: Array<{ name: string; path: string; namespace?: string }>;
  /** Name of the source and Kustomizations (default: the repository's last path segment). */
  name?: string;
  /** Flux interval of the source and Kustomizations (default `10m`: pushes arrive by webhook). */
  interval?: string;
  /** OCI only: the registry speaks plain HTTP. */
  insecure?: boolean;
  /** Create a read credential on the Git host and a Secret for it (default true on a configured GitLab). */
  credential?: boolean;
  /** Validate everything and render, writing nothing (Kubernetes `dryRun=All`). */
  dryRun?: boolean;
  /**
   * Run the Kustomizations with kustomize-controller's own rights in the Flux namespace
   * instead of as the tenant's service account (default false); needs
   * `gitops.cluster.manage`.
   */
  privileged?: boolean;
  /**
   * The owner of an entity the catalog does not have yet (a template's dry run): the dry
   * run is authorized as if the entity had this owner. Ignored once the entity exists.
   */
  owner?: string;
}

/** The objects one cluster gets, and how its Kustomizations ended. */
export interface FluxBootstrapCluster {
  name: string;
  /** The Flux objects (and no Secret values) as applied, or as they would be. */
  manifests: Array<Record<string, unknown>>;
  /** Each Kustomization's Ready condition once the source was Ready (absent on a dry run). */
  ready?: Array<{
    name: string;
    status: 'True' | 'False' | 'Unknown';
    message?: string;
  }>;
}

/** The answer of `POST /flux/bootstrap`. */
export interface FluxBootstrapResult {
  dryRun: boolean;
  /** The delivery repository's registry id (absent on a dry run). */
  deliveryRepositoryId?: string;
  clusters: FluxBootstrapCluster[];
  /** The credential created for the sources, metadata only. */
  token?: TokenRecord;
}
