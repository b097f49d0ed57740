import { createApiRef } from '@backstage/core-plugin-api';
import {
  AuditRecord,
  EntityStatus,
  ManagedReceiver,
  TokenFinding,
  TokenRecord,
  FluxObjectRef,
  Operation,
} from '@backstage-gitops/plugin-gitops-common';

/** @public */
export interface GitOpsHealth {
  status: string;
}

/**
 * One Flux object of an entity on one cluster, as the actions name it.
 *
 * @public
 */
export interface GitOpsActionTarget extends FluxObjectRef {
  cluster: string;
}

/** @public */
export interface GitOpsReconcileOptions {
  /** The object to reconcile; all of the entity's Kustomizations and HelmReleases when absent. */
  target?: GitOpsActionTarget;
  /** Reconcile the object's source first, as `flux reconcile --with-source`. */
  withSource?: boolean;
}

/**
 * Client of the GitOps backend's REST API. Entity refs are full refs such as
 * `component:default/podinfo`.
 *
 * @public
 */
export interface GitOpsApi {
  getHealth(): Promise<GitOpsHealth>;
  /** The entity's Flux objects on every cluster, with the Git hosts' heads. */
  getStatus(entityRef: string): Promise<EntityStatus>;
  /** Starts a reconcile ("Sync now"); one operation per object. */
  reconcile(
    entityRef: string,
    options?: GitOpsReconcileOptions,
  ): Promise<Operation[]>;
  suspend(entityRef: string, target: GitOpsActionTarget): Promise<Operation[]>;
  resume(entityRef: string, target: GitOpsActionTarget): Promise<Operation[]>;
  /** An operation and its progress so far. */
  getOperation(id: string): Promise<Operation>;
  /** The entity's audit trail, newest first. */
  getAudit(entityRef: string): Promise<AuditRecord[]>;
  /** The Flux Receivers the backend keeps for the entity's delivery repositories. */
  getReceivers(entityRef: string): Promise<ManagedReceiver[]>;
  /** Every credential Flux uses (metadata only), or those of one entity. */
  getTokens(): Promise<TokenRecord[]>;
  /** The token report: what is wrong with each credential and what to do. */
  getTokenReport(): Promise<TokenFinding[]>;
  /** The credentials of the entity's delivery repositories and their findings. */
  getEntityTokens(
    entityRef: string,
  ): Promise<{ items: TokenRecord[]; findings: TokenFinding[] }>;
  /** Rotates a credential; resolves once its sources are Ready with the new one. */
  rotateToken(id: string): Promise<TokenRecord>;
  /** Creates a least-privilege credential for a repository and puts it in use. */
  createToken(input: {
    repository: string;
    purpose: 'read' | 'commit-status';
  }): Promise<TokenRecord>;
}

/** @public */
export const gitopsApiRef = createApiRef<GitOpsApi>({
  id: 'plugin.gitops.api',
});
