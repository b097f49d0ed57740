import { parseEntityRef } from '@backstage/catalog-model';
import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  AuditRecord,
  EntityStatus,
  ManagedReceiver,
  TokenFinding,
  TokenRecord,
  Operation,
} from '@backstage-gitops/plugin-gitops-common';
import {
  GitOpsActionTarget,
  GitOpsApi,
  GitOpsHealth,
  GitOpsReconcileOptions,
} from './GitOpsApi';

/**
 * Talks to the GitOps backend through the app's discovery and fetch APIs, so the
 * user's Backstage token is attached by `fetchApi`, never by hand.
 *
 * @public
 */
export class GitOpsClient implements GitOpsApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  async getHealth(): Promise<GitOpsHealth> {
    return this.request<GitOpsHealth>('/health');
  }

  async getStatus(entityRef: string): Promise<EntityStatus> {
    return this.request<EntityStatus>(`${entityPath(entityRef)}/status`);
  }

  async reconcile(
    entityRef: string,
    options: GitOpsReconcileOptions = {},
  ): Promise<Operation[]> {
    const body: GitOpsReconcileOptions = {};
    if (options.target) {
      body.target = targetOf(options.target);
    }
    if (options.withSource !== undefined) {
      body.withSource = options.withSource;
    }
    const { items } = await this.request<{ items: Operation[] }>(
      `${entityPath(entityRef)}/reconcile`,
      body,
    );
    return items;
  }

  async suspend(
    entityRef: string,
    target: GitOpsActionTarget,
  ): Promise<Operation[]> {
    const { items } = await this.request<{ items: Operation[] }>(
      `${entityPath(entityRef)}/suspend`,
      { target: targetOf(target) },
    );
    return items;
  }

  async resume(
    entityRef: string,
    target: GitOpsActionTarget,
  ): Promise<Operation[]> {
    const { items } = await this.request<{ items: Operation[] }>(
      `${entityPath(entityRef)}/resume`,
      { target: targetOf(target) },
    );
    return items;
  }

  async getOperation(id: string): Promise<Operation> {
    return this.request<Operation>(`/operations/${encodeURIComponent(id)}`);
  }

  async getAudit(entityRef: string): Promise<AuditRecord[]> {
    const { items } = await this.request<{ items: AuditRecord[] }>(
      `${entityPath(entityRef)}/audit`,
    );
    return items;
  }

  async getReceivers(entityRef: string): Promise<ManagedReceiver[]> {
    const { items } = await this.request<{ items: ManagedReceiver[] }>(
      `${entityPath(entityRef)}/receivers`,
    );
    return items;
  }

  async getTokens(): Promise<TokenRecord[]> {
    return (await this.request<{ items: TokenRecord[] }>('/tokens')).items;
  }

  async getTokenReport(): Promise<TokenFinding[]> {
    return (await this.request<{ items: TokenFinding[] }>('/tokens/report'))
      .items;
  }

  async getEntityTokens(
    entityRef: string,
  ): Promise<{ items: TokenRecord[]; findings: TokenFinding[] }> {
    return this.request(`${entityPath(entityRef)}/tokens`);
  }

  async rotateToken(id: string): Promise<TokenRecord> {
    return (
      await this.request<{ token: TokenRecord }>(
        `/tokens/${encodeURIComponent(id)}/rotate`,
        {},
      )
    ).token;
  }

  async createToken(input: {
    repository: string;
    purpose: 'read' | 'commit-status';
  }): Promise<TokenRecord> {
    return (
      await this.request<{ token: TokenRecord }>('/tokens', {
        repository: input.repository,
        purpose: input.purpose,
      })
    ).token;
  }

  /** A GET without a body, a JSON POST with one. */
  private async request<T>(path: string, body?: unknown): Promise<T> {
    const baseUrl = await this.discoveryApi.getBaseUrl('gitops');
    const url = `${baseUrl}${path}`;
    const response =
      body === undefined
        ? await this.fetchApi.fetch(url)
        : await this.fetchApi.fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
          });
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return (await response.json()) as T;
  }
}

/** `component:default/podinfo` → `/entities/component/default/podinfo`. */
function entityPath(entityRef: string): string {
  const { kind, namespace, name } = parseEntityRef(entityRef);
  return `/entities/${[kind.toLocaleLowerCase('en-US'), namespace, name]
    .map(encodeURIComponent)
    .join('/')}`;
}

/** Only the fields the backend reads, whatever else the caller's object carries. */
function targetOf(target: GitOpsActionTarget): GitOpsActionTarget {
  return {
    cluster: target.cluster,
    kind: target.kind,
    namespace: target.namespace,
    name: target.name,
  };
}
