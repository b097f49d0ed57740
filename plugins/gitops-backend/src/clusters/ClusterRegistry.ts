import {
  AuthService,
  DatabaseService,
  LoggerService,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import {
  ConflictError,
  InputError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { isDeepStrictEqual } from 'util';
import { z } from 'zod';
import {
  GitOpsClusterConfigEntry,
  defaultSettings,
  entryForLocated,
  readGitOpsConfig,
  receiverUrlProblem,
} from './config';
import { DatabaseClusterStore, StoredCluster } from './DatabaseClusterStore';
import {
  LocatedCluster,
  readCatalogLocator,
  readConfigLocator,
} from './locators';
import { AddressPolicy, localAddressProblem } from './addresses';
import { TokenCipher } from './TokenCipher';
import { GitOpsCluster } from './types';

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** The body of a runtime cluster registration. */
export const clusterRegistrationSchema = z
  .object({
    name: z
      .string()
      .max(253)
      .regex(
        /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
        'must be lowercase letters, digits, "-" or "."',
      ),
    // zod runs every refinement even after `.url()` failed: each parses defensively.
    url: z
      .string()
      .url()
      .refine(url => /^https?:$/.test(parsedUrl(url)?.protocol ?? 'http:'), {
        message: 'must be an http(s) URL',
      })
      .refine(
        url => {
          const parsed = parsedUrl(url);
          return !parsed?.username && !parsed?.password;
        },
        { message: 'must not contain credentials' },
      ),
    token: z.string().min(1),
    caData: z.string().min(1).optional(),
    skipTLSVerify: z.boolean().optional(),
    fluxNamespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .optional(),
    receiverUrl: z.string().min(1).optional(),
  })
  .strict();

export type ClusterRegistration = z.infer<typeof clusterRegistrationSchema>;

/** Every cluster the GitOps backend works with, whatever its source. */
export interface ClusterRegistry {
  /** All clusters, from memory (no I/O). */
  list(): GitOpsCluster[];
  get(name: string): GitOpsCluster | undefined;
  /**
   * Registers a cluster through the API; its token is stored encrypted. Throws
   * ConflictError on a name in use, ServiceUnavailableError without an encryption key.
   */
  register(
    input: ClusterRegistration,
    options?: { createdBy?: string },
  ): Promise<GitOpsCluster>;
  /** Removes an `api` cluster; config and catalog clusters are removed at their source. */
  remove(name: string): Promise<void>;
  /** Called with the new list whenever the set of clusters or one of them changes. */
  onChange(listener: (clusters: GitOpsCluster[]) => void): () => void;
  /** Re-reads the catalog and the database (other instances may have registered clusters). */
  refresh(): Promise<void>;
}

export interface ClusterRegistryOptions {
  config: Config;
  logger: LoggerService;
  database: DatabaseService;
  /** Needed when `kubernetes.clusterLocatorMethods` has a `catalog` entry. */
  catalog?: CatalogService;
  auth?: AuthService;
  /** When given, catalog and database clusters are refreshed on this schedule. */
  scheduler?: SchedulerService;
  refreshIntervalMinutes?: number;
}

/** The default {@link ClusterRegistry}: config, catalog and database clusters. */
export class DefaultClusterRegistry implements ClusterRegistry {
  static async create(
    options: ClusterRegistryOptions,
  ): Promise<DefaultClusterRegistry> {
    const gitops = readGitOpsConfig(options.config);
    const methods =
      options.config.getOptionalConfigArray(
        'kubernetes.clusterLocatorMethods',
      ) ?? [];
    const configClusters: LocatedCluster[] = [];
    const catalogMethods: Config[] = [];
    for (const method of methods) {
      const type = method.getString('type');
      if (type === 'config') {
        configClusters.push(...readConfigLocator(method, options.logger));
      } else if (type === 'catalog') {
        if (!options.catalog || !options.auth) {
          throw new Error(
            'kubernetes.clusterLocatorMethods has a catalog locator, but the GitOps cluster registry was given no catalog service',
          );
        }
        catalogMethods.push(method);
      } else {
        options.logger.info(
          `GitOps ignores cluster locator type "${type}": only config and catalog are supported`,
        );
      }
    }
    const registry = new DefaultClusterRegistry(
      options,
      gitops.clusters,
      gitops.encryptionSecret
        ? TokenCipher.fromSecret(gitops.encryptionSecret)
        : undefined,
      await DatabaseClusterStore.create({ database: options.database }),
      configClusters,
      catalogMethods,
      gitops.registrationAllowedHosts,
    );
    await registry.refresh();
    if (options.scheduler) {
      await options.scheduler.scheduleTask({
        id: 'gitops-cluster-registry-refresh',
        frequency: { minutes: options.refreshIntervalMinutes ?? 5 },
        timeout: { minutes: 2 },
        scope: 'local',
        initialDelay: { minutes: options.refreshIntervalMinutes ?? 5 },
        fn: () => registry.refresh(),
      });
    }
    return registry;
  }

  private clusters: GitOpsCluster[] = [];
  private catalogClusters: LocatedCluster[] = [];
  private storedClusters: StoredCluster[] = [];
  private readonly listeners = new Set<(clusters: GitOpsCluster[]) => void>();

  private constructor(
    private readonly options: ClusterRegistryOptions,
    private readonly entries: Map<string, GitOpsClusterConfigEntry>,
    private readonly cipher: TokenCipher | undefined,
    private readonly store: DatabaseClusterStore,
    private readonly configClusters: LocatedCluster[],
    private readonly catalogMethods: Config[],
    private readonly registrationAllowedHosts: string[],
  ) {}

  list(): GitOpsCluster[] {
    return [...this.clusters];
  }

  get(name: string): GitOpsCluster | undefined {
    return this.clusters.find(cluster => cluster.name === name);
  }

  async register(
    input: ClusterRegistration,
    options: { createdBy?: string } = {},
  ): Promise<GitOpsCluster> {
    if (!this.cipher) {
      throw new ServiceUnavailableError(
        'Registering clusters through the API needs gitops.encryptionSecret in the configuration, to encrypt their tokens at rest',
      );
    }
    const existing = this.get(input.name);
    if (existing) {
      throw new ConflictError(
        `Cluster "${input.name}" already exists (source: ${existing.source})`,
      );
    }
    const problem =
      input.receiverUrl &&
      receiverUrlProblem(
        input.receiverUrl,
        entryForLocated(this.entries, input)?.settings
          .trustedServiceProxyPaths ?? [],
      );
    if (problem) {
      throw new InputError(`Invalid receiverUrl: ${problem}`);
    }
    for (const [key, url] of [
      ['url', input.url],
      ['receiverUrl', input.receiverUrl],
    ] as const) {
      const local =
        url && (await localAddressProblem(url, this.registrationAllowedHosts));
      if (local) throw new InputError(`Invalid ${key}: ${local}`);
    }
    await this.store.insert({
      name: input.name,
      url: input.url,
      ...(input.caData ? { caData: input.caData } : {}),
      skipTLSVerify: input.skipTLSVerify ?? false,
      tokenCiphertext: this.cipher.encrypt(input.token, input.name),
      settings: {
        ...(input.fluxNamespace ? { fluxNamespace: input.fluxNamespace } : {}),
        ...(input.receiverUrl ? { receiverUrl: input.receiverUrl } : {}),
      },
      ...(options.createdBy ? { createdBy: options.createdBy } : {}),
      createdAt: new Date().toISOString(),
    });
    this.storedClusters = await this.store.list();
    this.rebuild();
    return this.get(input.name)!;
  }

  async remove(name: string): Promise<void> {
    const cluster = this.get(name);
    if (!cluster) {
      throw new NotFoundError(`No cluster "${name}"`);
    }
    if (cluster.source !== 'api') {
      throw new ConflictError(
        `Cluster "${name}" comes from ${
          cluster.source === 'config'
            ? 'kubernetes.clusterLocatorMethods'
            : 'the catalog'
        }; remove it there`,
      );
    }
    await this.store.delete(name);
    this.storedClusters = await this.store.list();
    this.rebuild();
  }

  onChange(listener: (clusters: GitOpsCluster[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async refresh(): Promise<void> {
    let catalogClusters: LocatedCluster[] | undefined = [];
    for (const method of this.catalogMethods) {
      try {
        catalogClusters.push(
          ...(await readCatalogLocator(method, {
            catalog: this.options.catalog!,
            auth: this.options.auth!,
            logger: this.options.logger,
          })),
        );
      } catch (error) {
        // Keep the last known catalog clusters rather than dropping them on a blip.
        this.options.logger.warn(
          `GitOps could not read clusters from the catalog: ${
            (error as Error).message
          }`,
        );
        catalogClusters = undefined;
        break;
      }
    }
    if (catalogClusters) {
      this.catalogClusters = catalogClusters;
    }
    this.storedClusters = await this.store.list();
    this.rebuild();
  }

  /** Merges the sources (config first, then API, then catalog) and notifies on change. */
  private rebuild() {
    const next: GitOpsCluster[] = [];
    const add = (cluster: GitOpsCluster | undefined) => {
      if (!cluster) {
        return;
      }
      const clash = next.find(c => c.name === cluster.name);
      if (clash) {
        this.options.logger.warn(
          `GitOps ignores ${cluster.source} cluster "${cluster.name}": the name is taken by a ${clash.source} cluster`,
        );
        return;
      }
      next.push(cluster);
    };
    this.configClusters.forEach(c => add(this.fromLocated(c)));
    this.storedClusters.forEach(c => add(this.fromStored(c)));
    this.catalogClusters.forEach(c => add(this.fromLocated(c)));

    const changed = !isDeepStrictEqual(next, this.clusters);
    this.clusters = next;
    if (changed) {
      for (const listener of this.listeners) {
        try {
          listener(this.list());
        } catch (error) {
          this.options.logger.error(
            `GitOps cluster change listener failed: ${
              (error as Error).message
            }`,
          );
        }
      }
    }
  }

  /** Loopback and link-local addresses, unless `gitops.registration.dangerouslyAllowHosts`. */
  private registrationPolicy(): AddressPolicy {
    return {
      refuse: 'local',
      allowedHosts: this.registrationAllowedHosts,
      allowKey: 'gitops.registration.dangerouslyAllowHosts',
    };
  }

  private fromLocated(located: LocatedCluster): GitOpsCluster | undefined {
    // A catalog cluster is bound to its entry by entity ref, never by name alone.
    const entry = entryForLocated(this.entries, located);
    const what = located.entityRef ?? `"${located.name}"`;
    const token = located.token ?? entry?.serviceAccountToken;
    if (!token) {
      this.options.logger.warn(
        located.entityRef
          ? `GitOps skips catalog cluster ${what}: no gitops.clusters entry with entityRef: ${located.entityRef} (or, in the default namespace, name: ${located.name}) gives it a serviceAccountToken`
          : `GitOps skips ${located.source} cluster ${what}: no service-account token (set gitops.clusters[].serviceAccountToken for it)`,
      );
      return undefined;
    }
    return {
      // Bound by entity ref, the cluster takes the entry's name.
      name: entry?.entityRef ? entry.name : located.name,
      url: located.url,
      source: located.source,
      ...(located.caData ? { caData: located.caData } : {}),
      skipTLSVerify: located.skipTLSVerify,
      auth: { type: 'serviceAccount', token },
      settings: entry?.settings ?? defaultSettings(),
      ...(located.apiAddressPolicy
        ? { connect: { api: located.apiAddressPolicy } }
        : {}),
    };
  }

  private fromStored(stored: StoredCluster): GitOpsCluster | undefined {
    if (!this.cipher) {
      this.options.logger.warn(
        `GitOps skips registered cluster "${stored.name}": gitops.encryptionSecret is not configured, so its token cannot be decrypted`,
      );
      return undefined;
    }
    let token: string;
    try {
      token = this.cipher.decrypt(stored.tokenCiphertext, stored.name);
    } catch {
      this.options.logger.warn(
        `GitOps skips registered cluster "${stored.name}": its token does not decrypt with the configured gitops.encryptionSecret`,
      );
      return undefined;
    }
    const configured = entryForLocated(this.entries, stored)?.settings;
    return {
      name: stored.name,
      url: stored.url,
      source: 'api',
      ...(stored.caData ? { caData: stored.caData } : {}),
      skipTLSVerify: stored.skipTLSVerify,
      auth: { type: 'serviceAccount', token },
      settings: {
        ...defaultSettings(),
        ...configured,
        ...stored.settings,
      },
      // Checked at registration, and again whenever a connection is made.
      connect: {
        api: this.registrationPolicy(),
        ...(stored.settings.receiverUrl
          ? { receiver: this.registrationPolicy() }
          : {}),
      },
    };
  }
}
