import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { FluxBootstrapRequest } from '@backstage-gitops/plugin-gitops-common';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'yaml';
import { createFluxManifestsAction } from './fluxManifests';
import { integrations } from '../__testUtils__/integrations';

describe('gitops:flux:manifests', () => {
  const calls: FluxBootstrapRequest[] = [];
  const action = createFluxManifestsAction({
    integrations,
    api: {
      async bootstrap(request) {
        calls.push(request);
        return {
          dryRun: true,
          clusters: request.clusters.map(cluster => ({
            name: cluster.name,
            manifests: [
              {
                kind: 'Kustomization',
                metadata: { name: request.name ?? 'delivery' },
                spec: { path: `./${cluster.path}` },
              },
            ],
          })),
        };
      },
    },
  });
  let workspacePath: string;
  beforeEach(async () => {
    calls.length = 0;
    workspacePath = await mkdtemp(join(tmpdir(), 'gitops-manifests-'));
  });
  afterEach(() => rm(workspacePath, { recursive: true, force: true }));

  it('always asks for a dry run and outputs every cluster\u2019s YAML', async () => {
    const ctx = createMockActionContext({
      input: {
        entityRef: 'component:default/my-service',
        repoUrl: 'https://gitlab.example.com/team/my-service.git',
        clusters: ['dev', 'prod'],
      },
      workspacePath,
    });
    await action.handler(ctx);
    expect(calls).toEqual([expect.objectContaining({ dryRun: true })]);
    const [[, manifests]] = (ctx.output as jest.Mock).mock.calls.filter(
      ([name]) => name === 'manifests',
    );
    expect(
      yaml.parseAllDocuments(manifests).map(d => d.toJS().spec.path),
    ).toEqual(['./deploy/dev', './deploy/prod']);
    expect(ctx.output).toHaveBeenCalledWith('files', []);
    expect(await readdir(workspacePath)).toEqual([]);
  });

  it('refuses a target path outside the workspace, writing nothing', async () => {
    const ctx = createMockActionContext({
      input: {
        entityRef: 'component:default/my-service',
        repoUrl: 'https://gitlab.example.com/team/my-service.git',
        clusters: ['dev'],
        targetPath: '../escape',
      },
      workspacePath,
    });
    await expect(action.handler(ctx)).rejects.toThrow(/outside/);
    expect(await readdir(join(workspacePath, '..'))).not.toContain('escape');
  });

  it('writes template input as inert YAML strings: no alias, tag or document break', async () => {
    // What a template author (or a form user) could type to expand or inject YAML.
    const bomb = '&a ["lol","lol"]\nb: &b [*a,*a,*a]\n---\n!!js/function x';
    const ctx = createMockActionContext({
      input: {
        entityRef: 'component:default/my-service',
        repoUrl: 'https://gitlab.example.com/team/my-service.git',
        clusters: ['dev'],
        name: bomb,
      },
      workspacePath,
    });
    await action.handler(ctx);
    const [[, manifests]] = (ctx.output as jest.Mock).mock.calls.filter(
      ([name]) => name === 'manifests',
    );
    const documents = yaml.parseAllDocuments(manifests);
    expect(documents).toHaveLength(1);
    // No alias to expand: reading it with none allowed gives the string back as typed.
    expect(documents[0].toJS({ maxAliasCount: 0 }).metadata.name).toBe(bomb);
  });
});
