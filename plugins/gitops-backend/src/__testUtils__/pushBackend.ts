import {
  coreServices,
  createServiceFactory,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import eventsPlugin from '@backstage/plugin-events-backend';
import { EventsService, eventsServiceRef } from '@backstage/plugin-events-node';
import { SandboxWorld } from '@backstage-gitops/sandbox';
import { gitopsPlugin } from '../plugin';
import { eventsModuleGitlabWebhook } from '../webhooks/gitlabWebhookModule';
import {
  sandboxBackendConfig,
  sandboxReceiverUrls,
  sandboxRegistration,
  sandboxRepositoryAccess,
} from './sandboxConfig';

/**
 * A test backend that takes pushes: the plugin, the events backend with its GitLab
 * ingress, one in-process bus for all plugins (the test backend's default is one per
 * plugin) and a scheduler that runs tasks only when the test triggers them.
 */
export function pushBackendFeatures(options: {
  events: EventsService;
  scheduler: SchedulerService;
}) {
  return [
    gitopsPlugin,
    eventsPlugin,
    eventsModuleGitlabWebhook,
    createServiceFactory({
      service: eventsServiceRef,
      deps: {},
      factory: () => options.events,
    }),
    createServiceFactory({
      service: coreServices.scheduler,
      deps: {},
      factory: () => options.scheduler,
    }),
  ];
}

/** The configuration of such a backend against a sandbox world. */
export function pushBackendConfig(
  world: SandboxWorld,
  webhookSecret: string,
  gitops: Record<string, unknown> = {},
) {
  return {
    ...sandboxBackendConfig(world),
    app: { baseUrl: 'http://localhost:3000' },
    events: { modules: { gitlab: { webhookSecret } } },
    gitops: {
      clusters: sandboxReceiverUrls(world),
      registration: sandboxRegistration,
      repositoryAccess: sandboxRepositoryAccess,
      ...gitops,
    },
  };
}
