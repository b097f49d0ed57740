import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { ScmIntegrationRegistry } from '@backstage/integration';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import yaml from 'yaml';
import { GitOpsBootstrapApi } from './GitOpsBootstrapApi';
import {
  bootstrap,
  bootstrapRequest,
  deliveryInput,
  DeliveryInput,
} from './deliveryInput';
import { manifestsExamples } from './fluxManifests.examples';

/**
 * `gitops:flux:manifests`: the Flux objects `gitops:delivery-repo:register` would create,
 * rendered and validated by the gitops backend (a dry run there), as YAML for a review
 * or to commit (`targetPath`: one `<cluster>.yaml` per cluster in the workspace).
 *
 * @public
 */
export function createFluxManifestsAction(options: {
  api: GitOpsBootstrapApi;
  /** The Git hosts, to turn a RepoUrlPicker value into a clone URL. */
  integrations: ScmIntegrationRegistry;
}) {
  const { api, integrations } = options;
  return createTemplateAction({
    id: 'gitops:flux:manifests',
    description:
      'Renders the Flux source and Kustomization for a delivery repository on each cluster, validated by the clusters, as YAML',
    examples: manifestsExamples,
    supportsDryRun: true,
    schema: {
      input: {
        ...deliveryInput,
        targetPath: z =>
          z
            .string()
            .describe(
              'A directory of the workspace to write <cluster>.yaml files into',
            )
            .optional(),
      },
      output: {
        manifests: z =>
          z
            .string()
            .describe(
              'Every cluster\u2019s objects, as one multi-document YAML',
            ),
        files: z =>
          z
            .array(z.string())
            .describe('The files written, relative to the workspace'),
      },
    },
    async handler(ctx) {
      const result = await bootstrap(
        api,
        bootstrapRequest(ctx.input as DeliveryInput, true, integrations),
        {
          credentials: await ctx.getInitiatorCredentials(),
          entityTimeoutMs: 0,
          pollIntervalMs: 0,
        },
      );
      const documents = (manifests: Array<Record<string, unknown>>) =>
        manifests.map(manifest => yaml.stringify(manifest)).join('---\n');
      const files: string[] = [];
      if (ctx.input.targetPath !== undefined) {
        for (const cluster of result.clusters) {
          const relative = join(ctx.input.targetPath, `${cluster.name}.yaml`);
          // Throws for a path that leaves the workspace.
          const file = resolveSafeChildPath(ctx.workspacePath, relative);
          await mkdir(dirname(file), { recursive: true });
          await writeFile(file, documents(cluster.manifests));
          files.push(relative);
        }
      }
      ctx.output(
        'manifests',
        result.clusters
          .map(cluster => `# ${cluster.name}\n${documents(cluster.manifests)}`)
          .join('---\n'),
      );
      ctx.output('files', files);
    },
  });
}
