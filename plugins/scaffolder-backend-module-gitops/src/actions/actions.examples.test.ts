import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import {
  FluxBootstrapRequest,
  FluxBootstrapResult,
} from '@backstage-gitops/plugin-gitops-common';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'yaml';
import { createFluxManifestsAction } from './fluxManifests';
import { GitOpsBootstrapApi } from './GitOpsBootstrapApi';
import { createRegisterDeliveryRepoAction } from './registerDeliveryRepo';
import { integrations } from '../__testUtils__/integrations';

/** Renders as the backend does: a source and a Kustomization per cluster. */
const backend: GitOpsBootstrapApi & { calls: FluxBootstrapRequest[] } = {
  calls: [],
  async bootstrap(request): Promise<FluxBootstrapResult> {
    backend.calls.push(request);
    const oci = request.url.startsWith('oci://');
    return {
      dryRun: !!request.dryRun,
      clusters: request.clusters.map(cluster => ({
        name: cluster.name,
        manifests: [
          {
            apiVersion: 'source.toolkit.fluxcd.io/v1',
            kind: oci ? 'OCIRepository' : 'GitRepository',
            metadata: { name: 'my-service', namespace: 'flux-system' },
            spec: { url: request.url },
          },
          {
            apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
            kind: 'Kustomization',
            metadata: { name: 'my-service', namespace: 'flux-system' },
            spec: { path: `./${cluster.path}` },
          },
        ],
      })),
    };
  },
};

const actions = [
  createRegisterDeliveryRepoAction({ integrations, api: backend }),
  createFluxManifestsAction({ integrations, api: backend }),
];

describe.each(actions)('the examples of $id', action => {
  it.each(action.examples!.map(e => [e.description, e.example]))(
    '%s',
    async (_, example) => {
      const { steps } = yaml.parse(example);
      expect(steps).toHaveLength(1);
      expect(steps[0].action).toBe(action.id);
      backend.calls = [];
      const workspacePath = await mkdtemp(join(tmpdir(), 'gitops-example-'));
      try {
        const ctx = createMockActionContext({
          input: steps[0].input,
          workspacePath,
        });
        await action.handler(ctx);
        expect(backend.calls).toEqual([
          expect.objectContaining({
            entityRef: steps[0].input.entityRef,
            url: steps[0].input.repoUrl,
            clusters: steps[0].input.clusters.map((name: string) =>
              expect.objectContaining({ name }),
            ),
          }),
        ]);
        // An example with a target path writes each cluster's objects there.
        const { targetPath } = steps[0].input;
        const written = targetPath
          ? await readFile(join(workspacePath, targetPath, 'dev.yaml'), 'utf8')
          : undefined;
        expect(
          written && yaml.parseAllDocuments(written).map(d => d.toJS().kind),
        ).toEqual(targetPath ? ['GitRepository', 'Kustomization'] : undefined);
      } finally {
        await rm(workspacePath, { recursive: true, force: true });
      }
    },
  );
});
