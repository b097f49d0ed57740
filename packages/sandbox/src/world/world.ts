import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RunningGitLab, startGitLab } from '../gitlab';
import { RunningRegistry, startRegistry } from '../oci';
import { SandboxCluster, startSandboxCluster, FLUX_NAMESPACE } from './cluster';
import { DemoGitLab, demoFluxObjects, seedDemoGitLab } from './demo';
import { randomToken } from './secrets';
import { DEMO_TENANTS } from './tenants';
import type { TenancyOptions } from '../controllers';

/** The fixed ports of the demo (`scripts/start`); tests use ephemeral ones. */
export const DEMO_PORTS = {
  control: 7100,
  gitlab: 7101,
  registry: 7102,
  clusters: {
    dev: { api: 7110, receiver: 7120 },
    prod: { api: 7111, receiver: 7121 },
  },
} as const;

export interface StartWorldOptions {
  /** Where repositories, registry blobs and Flux artifacts live; emptied at start. */
  dataDir: string;
  /** Use DEMO_PORTS instead of ephemeral ports. */
  fixedPorts?: boolean;
  /** Cluster names; default `dev` and `prod`. */
  clusters?: string[];
  /** The demo sources' `spec.interval` (default `1m`). */
  sourceInterval?: string;
  /** Serve the cluster APIs over HTTPS with a throwaway CA, as real clusters do (default true). */
  tls?: boolean;
  /** Flux tenants on every cluster (`deploy/kubernetes/tenant.yaml`); default `team-apps`, `team-payments`. */
  tenants?: readonly string[];
  /**
   * The Flux controllers' multi-tenancy lockdown flags (`--default-service-account`,
   * `--no-cross-namespace-refs`), for every cluster or per cluster name. Default off.
   */
  lockdown?: TenancyOptions | ((cluster: string) => TenancyOptions | undefined);
  /**
   * The Backstage backend's base URL, where GitLab sends people back after they sign in
   * (the OAuth application's redirect URI); default `http://localhost:7007`.
   */
  backstageUrl?: string;
  log?: (message: string) => void;
}

export interface SandboxWorld {
  gitlab: RunningGitLab;
  registry: RunningRegistry;
  clusters: Map<string, SandboxCluster>;
  demo: DemoGitLab;
  /** A static token the Backstage backend accepts from scripts (`backend.auth.externalAccess`). */
  backstageServiceToken: string;
  /** The backend's `gitops.encryptionSecret` for the demo. */
  backstageEncryptionSecret: string;
  /** The events backend's `events.modules.gitlab.webhookSecret` for the demo. */
  backstageWebhookSecret: string;
  cluster(name: string): SandboxCluster;
  stop(): Promise<void>;
}

/**
 * Starts the demo world: a GitLab with the team's delivery repository and its CI, a real
 * OCI registry authorized by GitLab tokens, and clusters running Flux with the objects a
 * bootstrap would have created.
 */
export async function startWorld(
  options: StartWorldOptions,
): Promise<SandboxWorld> {
  const log = options.log ?? (() => {});
  const clusterNames = options.clusters ?? ['dev', 'prod'];
  await rm(options.dataDir, { recursive: true, force: true });
  await mkdir(options.dataDir, { recursive: true });
  const stoppers: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) {
      await stopOne();
    }
  };

  try {
    const gitlab = await startGitLab({
      port: options.fixedPorts ? DEMO_PORTS.gitlab : 0,
      dataDir: join(options.dataDir, 'gitlab'),
    });
    stoppers.push(() => gitlab.stop());
    log(`GitLab on ${gitlab.url}`);

    const registry = await startRegistry({
      dataDir: join(options.dataDir, 'registry'),
      port: options.fixedPorts ? DEMO_PORTS.registry : 0,
      authorize: request => gitlab.api.authorizeRegistry(request),
    });
    stoppers.push(() => registry.stop());
    log(`OCI registry on ${registry.url}`);

    const demo = await seedDemoGitLab(
      gitlab,
      registry,
      log,
      options.backstageUrl,
    );
    stoppers.push(() => demo.stop());

    const clusters = new Map<string, SandboxCluster>();
    for (const name of clusterNames) {
      const ports = options.fixedPorts
        ? DEMO_PORTS.clusters[name as keyof typeof DEMO_PORTS.clusters]
        : undefined;
      const cluster = await startSandboxCluster({
        name,
        dataDir: join(options.dataDir, 'clusters'),
        apiPort: ports?.api ?? 0,
        receiverPort: ports?.receiver ?? 0,
        tls: options.tls ?? true,
        tenants:
          options.tenants ?? DEMO_TENANTS.map(tenant => tenant.namespace),
        lockdown:
          typeof options.lockdown === 'function'
            ? options.lockdown(name)
            : options.lockdown,
      });
      stoppers.push(() => cluster.stop());
      clusters.set(name, cluster);
      for (const object of demoFluxObjects({
        cluster,
        gitlab: demo,
        registryHost: registry.host,
        sourceInterval: options.sourceInterval ?? '1m',
      })) {
        cluster.api.store.create(object);
      }
      log(
        `Cluster ${name}: API on ${cluster.api.url}, Flux in ${FLUX_NAMESPACE}`,
      );
    }

    return {
      gitlab,
      registry,
      clusters,
      demo,
      backstageServiceToken: randomToken('backstage-demo'),
      backstageEncryptionSecret: randomToken('gitops-encryption'),
      backstageWebhookSecret: randomToken('gitlab-webhook'),
      cluster(name) {
        const cluster = clusters.get(name);
        if (!cluster) throw new Error(`No cluster "${name}" in the sandbox`);
        return cluster;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
