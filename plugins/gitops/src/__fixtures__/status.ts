import { Entity } from '@backstage/catalog-model';
import {
  AuditRecord,
  EntityStatus,
  FluxStatusItem,
  ManagedReceiver,
  TokenFinding,
  TokenRecord,
  Operation,
} from '@backstage-gitops/plugin-gitops-common';

export const HEAD = '0123456789abcdef0123456789abcdef01234567';
export const OLD = 'fedcba9876543210fedcba9876543210fedcba98';

export const podinfoEntity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'podinfo',
    namespace: 'default',
    annotations: {
      'gitops.backstage.io/delivery-repositories':
        'http://gitlab.example.com/team/delivery.git',
      'gitops.backstage.io/delivery-path': 'apps/podinfo',
      'gitops.backstage.io/clusters': 'dev,prod',
    },
  },
  spec: { type: 'service', owner: 'user:default/guest' },
};

function source(overrides: Partial<FluxStatusItem> = {}): FluxStatusItem {
  return {
    kind: 'GitRepository',
    name: 'delivery',
    namespace: 'flux-system',
    kstatus: 'Current',
    ready: {
      status: 'True',
      reason: 'Succeeded',
      message: `stored artifact for revision 'main@sha1:${HEAD}'`,
    },
    suspended: false,
    interval: '1m',
    artifactRevision: `main@sha1:${HEAD}`,
    events: [],
    commitsBehind: 0,
    ...overrides,
  };
}

function kustomization(
  overrides: Partial<FluxStatusItem> = {},
): FluxStatusItem {
  return {
    kind: 'Kustomization',
    name: 'podinfo',
    namespace: 'flux-system',
    kstatus: 'Current',
    ready: {
      status: 'True',
      reason: 'ReconciliationSucceeded',
      message: `Applied revision: main@sha1:${HEAD}`,
    },
    suspended: false,
    interval: '5m',
    lastHandledReconcileAt: new Date(Date.now() - 120_000).toISOString(),
    lastAppliedRevision: `main@sha1:${HEAD}`,
    inventory: ['podinfo_podinfo_apps_Deployment', 'podinfo_podinfo__Service'],
    events: [
      {
        type: 'Normal',
        reason: 'ReconciliationSucceeded',
        message: 'Reconciliation finished in 120ms',
        count: 1,
        lastSeen: new Date(Date.now() - 120_000).toISOString(),
      },
    ],
    ...overrides,
  };
}

export const status: EntityStatus = {
  entityRef: 'component:default/podinfo',
  repositories: [
    {
      url: 'http://gitlab.example.com/team/delivery.git',
      kind: 'git',
      branch: 'main',
      headCommit: {
        sha: HEAD,
        title: 'Bump podinfo',
        createdAt: new Date().toISOString(),
        webUrl: `http://gitlab.example.com/team/delivery/-/commit/${HEAD}`,
      },
    },
  ],
  clusters: [
    {
      name: 'dev',
      stale: false,
      chains: [{ source: source(), consumers: [kustomization()] }],
      kubernetesIdObjects: [],
    },
    {
      name: 'prod',
      stale: true,
      staleSince: new Date(Date.now() - 60_000).toISOString(),
      error: 'connect ECONNREFUSED 127.0.0.1:7111',
      chains: [
        {
          source: source({
            artifactRevision: `main@sha1:${OLD}`,
            commitsBehind: 2,
          }),
          consumers: [
            kustomization({
              lastAppliedRevision: `main@sha1:${OLD}`,
              suspended: true,
            }),
            kustomization({
              name: 'podinfo-canary',
              kstatus: 'Failed',
              ready: {
                status: 'False',
                reason: 'BuildFailed',
                message: 'kustomization path not found',
              },
              lastAppliedRevision: undefined,
              inventory: [],
              events: [],
            }),
            kustomization({
              name: 'podinfo-rollout',
              kstatus: 'InProgress',
              ready: {
                status: 'Unknown',
                message: 'Reconciliation in progress',
              },
            }),
          ],
        },
      ],
      kubernetesIdObjects: [],
    },
  ],
};

export function operation(overrides: Partial<Operation> = {}): Operation {
  return {
    id: 'op-1',
    entityRef: 'component:default/podinfo',
    cluster: 'dev',
    target: {
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'podinfo',
    },
    action: 'reconcile',
    withSource: true,
    requestedBy: 'user:default/guest',
    status: 'running',
    steps: [
      {
        type: 'requested',
        at: new Date().toISOString(),
        object: {
          kind: 'GitRepository',
          namespace: 'flux-system',
          name: 'delivery',
        },
      },
    ],
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

export const auditRecords: AuditRecord[] = [
  {
    id: 'a-1',
    actor: 'user:default/guest',
    entityRef: 'component:default/podinfo',
    cluster: 'dev',
    target: {
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'podinfo',
    },
    action: 'suspend',
    outcome: 'succeeded',
    at: new Date(Date.now() - 3_600_000).toISOString(),
    durationMs: 1200,
  },
];

export const receivers: ManagedReceiver[] = [
  {
    cluster: 'dev',
    namespace: 'flux-system',
    name: 'gitops-git-team-delivery',
    source: { kind: 'GitRepository', name: 'team-delivery' },
    repository: 'git:gitlab.example.com/team/delivery',
    createdAt: '2026-11-25T08:00:00Z',
    updatedAt: '2026-11-25T08:00:00Z',
    lastTriggeredAt: '2026-11-25T09:00:00Z',
    lastResult: 'succeeded',
  },
  {
    cluster: 'prod',
    namespace: 'flux-system',
    name: 'gitops-git-team-delivery',
    source: { kind: 'GitRepository', name: 'team-delivery' },
    repository: 'git:gitlab.example.com/team/delivery',
    createdAt: '2026-11-25T08:00:00Z',
    updatedAt: '2026-11-25T08:00:00Z',
    lastTriggeredAt: '2026-11-25T09:00:00Z',
    lastResult: 'fallback',
    lastMessage: 'the receiver answered 503; requestedAt annotated',
  },
];

export const tokens: TokenRecord[] = [
  {
    id: 'a'.repeat(20),
    kind: 'deploy-token',
    host: 'gitlab.example.com',
    hostId: '3',
    owner: { type: 'project', path: 'team/delivery' },
    name: 'flux-read',
    username: 'gitlab+deploy-token-3',
    scopes: ['read_repository', 'read_registry'],
    expiresAt: '2027-01-31',
    fingerprint: `sha256:${'1'.repeat(64)}`,
    repositories: ['git:gitlab.example.com/team/delivery'],
    projects: ['team/delivery'],
    entityRefs: ['component:default/podinfo'],
    usages: [
      {
        cluster: 'dev',
        namespace: 'flux-system',
        secret: 'team-delivery-auth',
        key: 'password',
        format: 'basic-auth',
        object: { kind: 'GitRepository', name: 'team-delivery' },
        purpose: 'read',
      },
    ],
    lastSeenAt: '2026-11-25T09:00:00Z',
  },
  {
    id: 'b'.repeat(20),
    kind: 'personal-access-token',
    host: 'gitlab.example.com',
    hostId: '9',
    owner: { type: 'user', path: '4' },
    name: 'flux-prod-pull',
    scopes: ['api'],
    fingerprint: `sha256:${'2'.repeat(64)}`,
    repositories: ['oci:gitlab.example.com/team/delivery/storefront'],
    projects: ['team/delivery'],
    entityRefs: ['component:default/podinfo'],
    usages: [
      {
        cluster: 'prod',
        namespace: 'flux-system',
        secret: 'team-registry-auth',
        key: '.dockerconfigjson',
        format: 'docker-config',
        object: { kind: 'OCIRepository', name: 'storefront' },
        purpose: 'read',
      },
    ],
    lastSeenAt: '2026-11-25T09:00:00Z',
  },
];

export const tokenFindings: TokenFinding[] = [
  {
    tokenId: 'b'.repeat(20),
    severity: 'critical',
    type: 'api-scope',
    message: '"flux-prod-pull" has the api scope and is used to read',
    recommendation:
      'Use a project deploy token with read_repository/read_registry.',
  },
];
