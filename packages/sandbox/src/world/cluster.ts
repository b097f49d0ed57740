import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLUSTER_ADMIN_RULES,
  KubeApiServer,
  PolicyRule,
  startKubeApiServer,
} from '../kube';
import { rulesForServiceAccount } from '../kube/rbac';
import {
  FluxControllers,
  startFluxControllers,
  type TenancyOptions,
} from '../controllers';
import {
  NotificationController,
  ReceiverServer,
  startNotificationController,
  startReceiverServer,
} from '../controllers/notification';
import { randomToken } from './secrets';
import {
  parseManifests,
  readDeployManifest,
  renderTenantManifest,
  sandboxTenant,
  type SandboxTenant,
} from './tenants';

export const FLUX_NAMESPACE = 'flux-system';

/** The account the GitOps backend acts as, as `deploy/kubernetes/rbac.yaml` names it. */
export const BACKSTAGE_SERVICE_ACCOUNT = {
  name: 'backstage-gitops',
  namespace: FLUX_NAMESPACE,
};
export const BACKSTAGE_USER = `system:serviceaccount:${BACKSTAGE_SERVICE_ACCOUNT.namespace}:${BACKSTAGE_SERVICE_ACCOUNT.name}`;

/**
 * The RBAC manifests adopters apply on a cluster with these tenants: `rbac.yaml`, then
 * `tenant.yaml` once per tenant.
 */
function clusterManifests(tenants: readonly string[]): string {
  return [
    readDeployManifest('rbac.yaml'),
    ...tenants.map(renderTenantManifest),
  ].join('\n---\n');
}

const backstageRules_ = new Map<string, PolicyRule[]>();

/**
 * What the GitOps backend may do on a sandbox cluster: exactly what the RBAC manifests
 * adopters apply grant (read from the repository's `deploy/`: rbac.yaml, plus tenant.yaml
 * per tenant, which binds the backend in the tenant's namespace), so every test and the
 * demo run with the least privilege the product documents.
 */
export function backstageRules(tenants: readonly string[] = []): PolicyRule[] {
  const key = tenants.join(',');
  let rules = backstageRules_.get(key);
  if (!rules) {
    rules = rulesForServiceAccount(
      clusterManifests(tenants),
      BACKSTAGE_SERVICE_ACCOUNT,
    );
    backstageRules_.set(key, rules);
  }
  return rules;
}

export interface SandboxClusterOptions {
  name: string;
  dataDir: string;
  /** Port of the Kubernetes API on 127.0.0.1; 0 picks a free one. */
  apiPort?: number;
  /** Port of the direct webhook-receiver URL; 0 picks a free one. */
  receiverPort?: number;
  /** Served source.toolkit versions: Flux 2.8+ serves only v1. Default both. */
  sourceVersions?: Array<'v1' | 'v1beta2'>;
  /** Minimum duration of every Flux reconciliation. */
  reconcileDelayMs?: number;
  /** Serve the Kubernetes API over HTTPS with a throwaway cluster CA (needs `openssl`). */
  tls?: boolean;
  /** Flux tenants to create from `deploy/kubernetes/tenant.yaml` (namespace named after each). */
  tenants?: readonly string[];
  /**
   * kustomize-controller's and helm-controller's multi-tenancy lockdown flags
   * (`--default-service-account`, `--no-cross-namespace-refs`). Default off.
   */
  lockdown?: TenancyOptions;
}

export interface SandboxCluster {
  name: string;
  api: KubeApiServer;
  /** With TLS: the cluster CA, base64 PEM as in a kubeconfig's `certificate-authority-data`. */
  caData?: string;
  flux: FluxControllers;
  notification: NotificationController;
  receiver: ReceiverServer;
  /** Bearer tokens: `admin` is cluster-admin, `backstage` what the GitOps backend gets. */
  tokens: { admin: string; backstage: string };
  /** The Flux tenants created on the cluster. */
  tenants: SandboxTenant[];
  stop(): Promise<void>;
}

/** One simulated cluster: its API server, Flux controllers and webhook receiver. */
export async function startSandboxCluster(
  options: SandboxClusterOptions,
): Promise<SandboxCluster> {
  const tenants = options.tenants ?? [];
  const tokens = {
    admin: randomToken('k8s-admin'),
    backstage: randomToken('k8s-backstage'),
  };
  const api = await startKubeApiServer({
    clusterName: options.name,
    port: options.apiPort ?? 0,
    tls: options.tls ?? false,
    resourceTypes: {
      sourceVersions: options.sourceVersions ?? ['v1', 'v1beta2'],
    },
    tokens: {
      [tokens.admin]: {
        user: 'system:admin',
        groups: ['system:masters'],
        rules: CLUSTER_ADMIN_RULES,
      },
      [tokens.backstage]: {
        user: BACKSTAGE_USER,
        rules: backstageRules(tenants),
      },
    },
  });
  const { store } = api;
  store.create({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: FLUX_NAMESPACE },
  });
  store.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'webhook-receiver', namespace: FLUX_NAMESPACE },
    spec: {
      type: 'ClusterIP',
      selector: { app: 'notification-controller' },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9292 }],
    },
  });
  // As `kubectl apply -f deploy/kubernetes/rbac.yaml` and each tenant's tenant.yaml would:
  // the stored RBAC the Flux controllers authorize impersonated writes against.
  for (const object of parseManifests(clusterManifests(tenants))) {
    store.create(object);
  }

  const dataDir = join(options.dataDir, options.name);
  await mkdir(dataDir, { recursive: true });
  const flux = await startFluxControllers({
    store,
    dataDir,
    reconcileDelayMs: options.reconcileDelayMs,
    ...options.lockdown,
  });
  const notification = startNotificationController({ store });
  api.registerServiceHandler(
    FLUX_NAMESPACE,
    'webhook-receiver',
    notification.handler,
  );
  const receiver = await startReceiverServer({
    store,
    port: options.receiverPort ?? 0,
    handler: notification.handler,
  });

  return {
    name: options.name,
    api,
    caData: api.caData,
    flux,
    notification,
    receiver,
    tokens,
    tenants: tenants.map(sandboxTenant),
    async stop() {
      await receiver.stop();
      await notification.stop();
      await flux.stop();
      await api.stop();
    },
  };
}
