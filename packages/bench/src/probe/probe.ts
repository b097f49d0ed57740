import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import { Entity } from '@backstage/catalog-model';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { eventsServiceFactory } from '@backstage/plugin-events-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import gitopsPlugin, {
  eventsModuleGitlabWebhook,
} from '@backstage-gitops/plugin-gitops-backend';
import {
  BenchMessage,
  PROBE_ENV,
  ProbeMessage,
  ProbeOptions,
} from './protocol';

const send = (message: ProbeMessage) => process.send?.(message);

/** Full collections first, so RSS holds what is live rather than what awaits collection. */
function collect() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('The probe needs node --expose-gc');
  gc();
  gc();
}

/**
 * Runs the backend under measurement alone in this process, so that its CPU is not the
 * world's or the load generator's, and its memory can be read: the GitOps backend with a
 * mock catalog of the given entities, and the plugins a scenario compares or needs.
 */
export async function runProbe(): Promise<void> {
  try {
    const options = JSON.parse(process.env[PROBE_ENV] ?? '') as ProbeOptions;
    const features: Parameters<typeof startTestBackend>[0]['features'] = [
      gitopsPlugin,
      // The real scheduler: receivers, webhooks and syncs run on their production schedule.
      schedulerServiceFactory,
      mockServices.rootConfig.factory({ data: options.config }),
      catalogServiceMock.factory({
        entities: options.entities as unknown as Entity[],
      }),
    ];
    if (options.features.kubernetes) {
      features.push(import('@backstage/plugin-kubernetes-backend'));
    }
    if (options.features.gitlabEvents) {
      features.push(
        // As in production: one in-process bus for every plugin (the test default is one each).
        eventsServiceFactory,
        import('@backstage/plugin-events-backend'),
        eventsModuleGitlabWebhook,
      );
    }
    const backend = await startTestBackend({ features });
    const address = backend.server.address();
    if (!address || typeof address === 'string') {
      throw new Error('The probe backend has no TCP address');
    }
    process.on('message', (message: BenchMessage) => {
      if (message.type === 'memory') {
        collect();
        send({ type: 'memory', usage: process.memoryUsage() });
      }
    });
    send({ type: 'ready', port: address.port });
  } catch (error) {
    send({ type: 'failed', message: String((error as Error).stack ?? error) });
    process.exitCode = 1;
  }
}
