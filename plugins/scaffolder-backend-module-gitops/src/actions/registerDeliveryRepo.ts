import { ScmIntegrationRegistry } from '@backstage/integration';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { JsonObject } from '@backstage/types';
import { FluxBootstrapResult } from '@backstage-gitops/plugin-gitops-common';
import { GitOpsBootstrapApi } from './GitOpsBootstrapApi';
import {
  bootstrap,
  bootstrapRequest,
  deliveryInput,
  DeliveryInput,
} from './deliveryInput';
import { registerExamples } from './registerDeliveryRepo.examples';

/**
 * `gitops:delivery-repo:register`: registers a delivery repository for an entity and
 * wires it to Flux on the chosen clusters (source, Kustomization, read-only deploy
 * token; the Receiver follows), through the gitops backend as the task's initiator.
 * A dry run has the backend validate and render everything, writing nothing.
 *
 * @public
 */
export function createRegisterDeliveryRepoAction(options: {
  api: GitOpsBootstrapApi;
  /** The Git hosts, to turn a RepoUrlPicker value into a clone URL. */
  integrations: ScmIntegrationRegistry;
  /** How long to wait for the catalog to have a just-registered entity (default 60 s). */
  entityTimeoutMs?: number;
  pollIntervalMs?: number;
}) {
  const { api, integrations } = options;
  return createTemplateAction({
    id: 'gitops:delivery-repo:register',
    description:
      'Registers a delivery repository for an entity and wires it to Flux on the chosen clusters: source, Kustomization, a read-only deploy token and the managed Receiver',
    examples: registerExamples,
    supportsDryRun: true,
    schema: {
      input: deliveryInput,
      output: {
        deliveryRepositoryId: z =>
          z
            .string()
            .describe('The registry id of the delivery repository')
            .optional(),
        readyClusters: z =>
          z
            .array(z.string())
            .describe('The clusters whose Kustomization is Ready'),
        tokenId: z =>
          z
            .string()
            .describe('The token inventory id of the deploy token created')
            .optional(),
      },
    },
    async handler(ctx) {
      const dryRun = !!ctx.isDryRun;
      const request = bootstrapRequest(
        ctx.input as DeliveryInput,
        dryRun,
        integrations,
      );
      const credentials = await ctx.getInitiatorCredentials();
      const run = () =>
        bootstrap(api, request, {
          credentials,
          entityTimeoutMs: options.entityTimeoutMs ?? 60_000,
          pollIntervalMs: options.pollIntervalMs ?? 2_000,
          signal: ctx.signal,
        });
      // Done once per task: a retried task gets the first answer back.
      const result: FluxBootstrapResult = dryRun
        ? await run()
        : ((await ctx.checkpoint({
            key: `gitops.bootstrap.${request.entityRef}.${request.url}`,
            fn: async () => (await run()) as unknown as JsonObject,
          })) as unknown as FluxBootstrapResult);
      for (const cluster of result.clusters) {
        const ready = cluster.ready?.[0];
        ctx.logger.info(
          dryRun
            ? `${cluster.name}: would apply ${cluster.manifests
                .map(m => `${m.kind} ${(m.metadata as { name: string }).name}`)
                .join(', ')}`
            : `${cluster.name}: Kustomization ${ready?.name} Ready=${
                ready?.status
              }${ready?.message ? ` (${ready.message})` : ''}`,
        );
      }
      if (result.deliveryRepositoryId) {
        ctx.output('deliveryRepositoryId', result.deliveryRepositoryId);
      }
      ctx.output(
        'readyClusters',
        result.clusters
          .filter(cluster => cluster.ready?.[0]?.status === 'True')
          .map(cluster => cluster.name),
      );
      if (result.token) ctx.output('tokenId', result.token.id);
    },
  });
}
