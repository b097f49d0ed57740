import { randomUUID } from 'crypto';
import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { eventsServiceRef } from '@backstage/plugin-events-node';
import { notificationService } from '@backstage/plugin-notifications-node';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { gitopsPermissions } from '@backstage-gitops/plugin-gitops-common';
import { FluxActions } from './actions/FluxActions';
import { OperationRunner } from './actions/OperationRunner';
import { entityObjectsFromStatus } from './actions/entityObjects';
import { createEntityActionRoutes } from './actions/router';
import { FluxCache } from './cache';
import {
  CommitStatusReporter,
  notifyOwnersOfFailure,
  readCommitStatusSettings,
} from './commitStatus';
import {
  createClusterRoutes,
  DefaultClusterRegistry,
  kubeConfigFor,
  readGitOpsConfig,
} from './clusters';
import { DatabaseAuditStore } from './database/DatabaseAuditStore';
import { DatabaseDeliveryRepositoryStore } from './database/DatabaseDeliveryRepositoryStore';
import { DatabaseOperationStore } from './database/DatabaseOperationStore';
import {
  createDeliveryRepositoryRoutes,
  DeliveryRepositoryCatalogSync,
} from './deliveryRepositories';
import { DatabaseReceiverStore } from './database/DatabaseReceiverStore';
import { DatabaseWebhookStore } from './database/DatabaseWebhookStore';
import { GitHosts, RepositoryAccess } from './gitHosts';
import {
  createReceiverRoutes,
  gitHostNames,
  PUSH_TOPICS,
  PushRelay,
  readReceiverSettings,
  readRelaySettings,
  ReceiverManager,
  ReceiverTrigger,
} from './receivers';
import { createNotifyRoutes, DeliveryNotifier } from './notify';
import { DatabaseObjectOwnerStore } from './database/DatabaseObjectOwnerStore';
import { ObjectClaims, Tenancy } from './tenancy';
import { createRouter } from './service/router';
import { createStatusRoutes, EntityStatusService } from './status';
import { readWebhookSettings, WebhookRegistrar } from './webhooks';
import { DatabaseTokenStore } from './database/DatabaseTokenStore';
import { DatabasePushDeliveryStore } from './database/DatabasePushDeliveryStore';
import { DatabaseLockStore } from './database/DatabaseLockStore';
import {
  createTokenRoutes,
  GitLabCredentialIssuer,
  GitLabCredentialLookup,
  readExpiringWithinDays,
  readRotationSettings,
  SecretWriter,
  TokenInventory,
  TokenRotator,
} from './tokens';
import { ScmIntegrations } from '@backstage/integration';
import {
  createBootstrapRoutes,
  FluxBootstrapper,
  readBootstrapReadyTimeout,
} from './bootstrap';

/**
 * The GitOps backend plugin: Flux status, sync and receivers for catalog entities.
 *
 * @public
 */
export const gitopsPlugin = createBackendPlugin({
  pluginId: 'gitops',
  register(env) {
    env.registerInit({
      deps: {
        auditor: coreServices.auditor,
        auth: coreServices.auth,
        catalog: catalogServiceRef,
        config: coreServices.rootConfig,
        database: coreServices.database,
        discovery: coreServices.discovery,
        events: eventsServiceRef,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
        lifecycle: coreServices.lifecycle,
        logger: coreServices.logger,
        notifications: notificationService,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        scheduler: coreServices.scheduler,
      },
      async init(deps) {
        const { catalog, httpAuth, lifecycle, logger, permissions } = deps;
        deps.permissionsRegistry.addPermissions(gitopsPermissions);

        const deliveryRepositories =
          await DatabaseDeliveryRepositoryStore.create(deps);
        const catalogSync = await DeliveryRepositoryCatalogSync.create({
          ...deps,
          store: deliveryRepositories,
        });

        const registry = await DefaultClusterRegistry.create(deps);
        const allowedLocalHosts = readGitOpsConfig(
          deps.config,
        ).registrationAllowedHosts;
        const cache = FluxCache.create({ logger, clusters: registry.list() });
        registry.onChange(clusters => {
          const current = new Set(cache.clusterNames());
          const wanted = new Map(
            clusters.map(cluster => [cluster.name, cluster]),
          );
          for (const name of current) {
            if (!wanted.has(name)) void cache.removeCluster(name);
          }
          for (const cluster of wanted.values()) {
            if (!current.has(cluster.name)) void cache.addCluster(cluster);
          }
        });
        cache.start();
        lifecycle.addShutdownHook(() => cache.stop());

        const statusService = EntityStatusService.create({
          config: deps.config,
          cache,
          deliveries: catalogSync,
          logger,
        });

        const operations = await DatabaseOperationStore.create(deps);
        const audit = await DatabaseAuditStore.create(deps);
        // This process among the backend's replicas, for the leases of shared work.
        const instanceId = randomUUID();
        const runner = new OperationRunner({
          instanceId,
          operations,
          audit,
          logger,
          auditor: deps.auditor,
          actionsFor: async name => {
            const cluster = registry.get(name);
            if (!cluster) throw new Error(`No cluster ${name}`);
            return new FluxActions({
              kubeConfig: kubeConfigFor(cluster),
              versionOf: group => cache.versionOf(name, group) ?? 'v1',
            });
          },
        });
        // What a stopped or dead instance (this one before a restart, or another
        // replica) left unfinished: every instance looks, each taking only expired
        // leases, so the work of one that died is taken over within half a minute.
        const adoptEvery30s = (id: string, adopt: () => Promise<void>) =>
          deps.scheduler.scheduleTask({
            id,
            frequency: { seconds: 30 },
            timeout: { minutes: 2 },
            scope: 'local',
            initialDelay: { seconds: 30 },
            fn: adopt,
          });
        await runner.adoptAbandoned();
        await adoptEvery30s('gitops-operations-adopt', () =>
          runner.adoptAbandoned(),
        );

        const objectApi = (name: string) => {
          const cluster = registry.get(name);
          return cluster
            ? KubernetesObjectApi.makeApiClient(kubeConfigFor(cluster))
            : undefined;
        };
        const receivers = await DatabaseReceiverStore.create(deps);
        const receiverManager = new ReceiverManager({
          cache,
          objectApi,
          store: receivers,
          gitHosts: gitHostNames(deps.config),
          settings: readReceiverSettings(deps.config),
          logger: logger.child({ task: 'receivers' }),
        });
        await deps.scheduler.scheduleTask({
          id: 'gitops-receivers',
          scope: 'global',
          frequency: { seconds: 15 },
          timeout: { minutes: 2 },
          initialDelay: { seconds: 5 },
          fn: () => receiverManager.run(),
        });
        const gitHosts = GitHosts.fromConfig(deps.config);
        const repositoryAccess = RepositoryAccess.fromConfig(deps.config, {
          hosts: gitHosts,
          catalog,
          auth: deps.auth,
        });
        const webhookRegistrar = new WebhookRegistrar({
          deliveries: deliveryRepositories,
          store: await DatabaseWebhookStore.create(deps),
          hosts: gitHosts,
          settings: readWebhookSettings(deps.config),
          discovery: deps.discovery,
          logger: logger.child({ task: 'webhooks' }),
        });
        await deps.scheduler.scheduleTask({
          id: 'gitops-webhooks',
          scope: 'global',
          frequency: { minutes: 1 },
          timeout: { minutes: 5 },
          // After the first catalog sync has registered the annotated repositories.
          initialDelay: { seconds: 10 },
          fn: () => webhookRegistrar.run(),
        });
        const tokens = await DatabaseTokenStore.create(deps);
        const integrations = ScmIntegrations.fromConfig(deps.config);
        const tokenInventory = new TokenInventory({
          cache,
          objectApi,
          integrations,
          deliveries: deliveryRepositories,
          store: tokens,
          logger: logger.child({ task: 'tokens' }),
        });
        await deps.scheduler.scheduleTask({
          id: 'gitops-tokens-inventory',
          scope: 'global',
          frequency: { minutes: 10 },
          timeout: { minutes: 5 },
          initialDelay: { seconds: 20 },
          fn: async () => {
            await tokenInventory.run();
          },
        });
        const fluxActionsFor = (name: string) => {
          const cluster = registry.get(name);
          if (!cluster) throw new Error(`No cluster ${name}`);
          return new FluxActions({
            kubeConfig: kubeConfigFor(cluster),
            versionOf: group => cache.versionOf(name, group) ?? 'v1',
          });
        };
        const rotationSettings = readRotationSettings(deps.config);
        const tokenRotator = new TokenRotator({
          store: tokens,
          inventory: tokenInventory,
          cache,
          issuer: new GitLabCredentialIssuer(integrations),
          lookup: () => new GitLabCredentialLookup(integrations),
          secrets: new SecretWriter(objectApi),
          actionsFor: fluxActionsFor,
          settings: rotationSettings,
          locks: await DatabaseLockStore.create({ ...deps, instanceId }),
          logger: logger.child({ task: 'tokens' }),
        });
        if (rotationSettings.schedule) {
          await deps.scheduler.scheduleTask({
            id: 'gitops-tokens-rotation',
            scope: 'global',
            frequency: { hours: 1 },
            timeout: { minutes: 30 },
            initialDelay: { minutes: 1 },
            fn: () => tokenRotator.rotateDue(),
          });
        }
        const reporter = new CommitStatusReporter({
          cache,
          hosts: gitHosts,
          deliveries: deliveryRepositories,
          settings: readCommitStatusSettings(deps.config),
          logger: logger.child({ task: 'commit-status' }),
          onOutcome: notifyOwnersOfFailure(deps.notifications, logger),
        });
        const pushRelay = new PushRelay({
          store: receivers,
          deliveries: await DatabasePushDeliveryStore.create(deps),
          instanceId,
          settings: readRelaySettings(deps.config),
          reporter,
          trigger: new ReceiverTrigger({
            clusterOf: name => registry.get(name),
            webhookPathOf: receiver => {
              const path = cache.get(
                receiver.cluster,
                'Receiver',
                receiver.namespace,
                receiver.name,
              )?.status.webhookPath;
              return typeof path === 'string' ? path : undefined;
            },
            actionsFor: cluster =>
              new FluxActions({
                kubeConfig: kubeConfigFor(cluster),
                versionOf: group =>
                  cache.versionOf(cluster.name, group) ?? 'v1',
              }),
            store: receivers,
            logger: logger.child({ task: 'receivers' }),
          }),
          logger: logger.child({ task: 'receivers' }),
        });
        await deps.events.subscribe({
          id: 'receivers-push',
          topics: PUSH_TOPICS,
          // The events backend answers the Git host after its subscribers: do not hold it.
          // It is recorded first, so a replica that dies before relaying loses none.
          onEvent: async event => {
            const delivery = await pushRelay.accept(event);
            if (!delivery) return;
            pushRelay
              .relay(delivery)
              .catch(error => logger.warn(`Relaying a push failed: ${error}`));
          },
        });
        await adoptEvery30s('gitops-push-adopt', () =>
          pushRelay.adoptAbandoned(),
        );
        lifecycle.addShutdownHook(() => runner.stop());
        const objectOwners = await DatabaseObjectOwnerStore.create(deps);
        const tenancy = Tenancy.fromConfig(deps.config);
        const claims = new ObjectClaims({
          cache,
          deliveries: deliveryRepositories,
          owners: objectOwners,
          catalog,
          auth: deps.auth,
          tenancy,
          permissions,
        });

        deps.httpRouter.use(
          await createRouter({
            routes: [
              createClusterRoutes({
                registry,
                health: cache,
                httpAuth,
                permissions,
              }),
              createDeliveryRepositoryRoutes({
                store: deliveryRepositories,
                httpAuth,
                permissions,
                catalog,
                clusters: registry,
                allowedLocalHosts,
                access: repositoryAccess,
              }),
              createStatusRoutes({
                statusService,
                claims,
                catalog,
                httpAuth,
                permissions,
              }),
              createReceiverRoutes({
                store: receivers,
                deliveries: catalogSync,
                catalog,
                httpAuth,
                permissions,
              }),
              createTokenRoutes({
                store: tokens,
                rotator: tokenRotator,
                expiringWithinDays: readExpiringWithinDays(deps.config),
                catalog,
                httpAuth,
                permissions,
              }),
              createBootstrapRoutes({
                bootstrapper: new FluxBootstrapper({
                  clusters: registry,
                  cache,
                  objectApi,
                  deliveries: deliveryRepositories,
                  rotator: tokenRotator,
                  lookup: () => new GitLabCredentialLookup(integrations),
                  actionsFor: fluxActionsFor,
                  readyTimeoutMs: readBootstrapReadyTimeout(deps.config),
                  allowedLocalHosts,
                  tenancy,
                  owners: objectOwners,
                  access: repositoryAccess,
                  logger: logger.child({ task: 'bootstrap' }),
                }),
                catalog,
                httpAuth,
                permissions,
              }),
              createNotifyRoutes({
                notifier: new DeliveryNotifier({
                  cache,
                  deliveries: deliveryRepositories,
                  runner,
                  reporter,
                  permissions,
                  logger: logger.child({ task: 'notify' }),
                }),
                httpAuth,
              }),
              createEntityActionRoutes({
                runner,
                operations,
                audit,
                objects: entityObjectsFromStatus(statusService),
                claims,
                catalog,
                httpAuth,
                permissions,
              }),
            ],
          }),
        );
        deps.httpRouter.addAuthPolicy({
          path: '/health',
          allow: 'unauthenticated',
        });
      },
    });
  },
});
