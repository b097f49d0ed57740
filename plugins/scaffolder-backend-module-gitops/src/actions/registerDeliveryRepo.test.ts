import { mockCredentials } from '@backstage/backend-test-utils';
import { ResponseError } from '@backstage/errors';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import {
  FluxBootstrapRequest,
  FluxBootstrapResult,
} from '@backstage-gitops/plugin-gitops-common';
import { GitOpsBootstrapApi } from './GitOpsBootstrapApi';
import { createRegisterDeliveryRepoAction } from './registerDeliveryRepo';
import { integrations } from '../__testUtils__/integrations';

/** A backend that answers as the real one does, from the request it gets. */
function fakeBackend(
  answer: (
    request: FluxBootstrapRequest,
  ) => Promise<FluxBootstrapResult> = async request => ({
    dryRun: !!request.dryRun,
    ...(request.dryRun ? {} : { deliveryRepositoryId: 'repo-1' }),
    clusters: request.clusters.map(cluster => ({
      name: cluster.name,
      manifests: [
        { kind: 'GitRepository', metadata: { name: 'my-service' } },
        {
          kind: 'Kustomization',
          metadata: { name: 'my-service' },
          spec: { path: `./${cluster.path}` },
        },
      ],
      ...(request.dryRun
        ? {}
        : { ready: [{ name: 'my-service', status: 'True' as const }] }),
    })),
  }),
) {
  const calls: FluxBootstrapRequest[] = [];
  const api: GitOpsBootstrapApi = {
    bootstrap: jest.fn(async (request: FluxBootstrapRequest) => {
      calls.push(request);
      return answer(request);
    }),
  };
  return { api, calls };
}

async function notFound(message: string) {
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name: 'NotFoundError', message },
        response: { statusCode: 404 },
      }),
      {
        status: 404,
        statusText: 'Not Found',
        headers: { 'Content-Type': 'application/json' },
      },
    ) as any,
  );
}

const input = {
  entityRef: 'component:default/my-service',
  repoUrl: 'https://gitlab.example.com/team/my-service.git',
  clusters: ['dev', 'prod'],
};

/** The mock context takes only some fields; the rest (dry run, credentials) go on top. */
function context(overrides: Record<string, unknown> = {}) {
  return {
    ...createMockActionContext({
      input: (overrides.input as typeof input) ?? input,
    }),
    ...overrides,
  } as Parameters<
    ReturnType<typeof createRegisterDeliveryRepoAction>['handler']
  >[0];
}

describe('gitops:delivery-repo:register', () => {
  it('asks the backend, as the initiator, for each cluster with its own path, and outputs what it did', async () => {
    const { api, calls } = fakeBackend();
    const action = createRegisterDeliveryRepoAction({ integrations, api });
    const credentials = mockCredentials.user('user:default/guest');
    const ctx = context({
      input,
      getInitiatorCredentials: async () => credentials,
    });
    await action.handler(ctx);
    expect(calls).toEqual([
      {
        entityRef: 'component:default/my-service',
        url: 'https://gitlab.example.com/team/my-service.git',
        clusters: [
          { name: 'dev', path: 'deploy/dev' },
          { name: 'prod', path: 'deploy/prod' },
        ],
        dryRun: false,
      },
    ]);
    expect(api.bootstrap).toHaveBeenCalledWith(expect.anything(), {
      credentials,
    });
    expect(ctx.output).toHaveBeenCalledWith('deliveryRepositoryId', 'repo-1');
    expect(ctx.output).toHaveBeenCalledWith('readyClusters', ['dev', 'prod']);
  });

  it('runs as a dry run in the backend on a dry run, and outputs no registration', async () => {
    const { api, calls } = fakeBackend();
    const action = createRegisterDeliveryRepoAction({ integrations, api });
    const ctx = context({
      input: { ...input, path: 'overlays/{cluster}/app', ref: 'release' },
      isDryRun: true,
    });
    await action.handler(ctx);
    expect(calls[0]).toMatchObject({
      dryRun: true,
      ref: 'release',
      clusters: [
        { name: 'dev', path: 'overlays/dev/app' },
        { name: 'prod', path: 'overlays/prod/app' },
      ],
    });
    expect(ctx.output).not.toHaveBeenCalledWith(
      'deliveryRepositoryId',
      expect.anything(),
    );
    expect(ctx.output).toHaveBeenCalledWith('readyClusters', []);
  });

  it('turns a RepoUrlPicker value into the integration\u2019s clone URL, and refuses an unknown host', async () => {
    const { api, calls } = fakeBackend();
    const action = createRegisterDeliveryRepoAction({ integrations, api });
    await action.handler(
      context({
        input: {
          ...input,
          repoUrl: 'gitlab.example.com?owner=team&repo=my-service',
        },
        isDryRun: true,
      }),
    );
    expect(calls[0].url).toBe('https://gitlab.example.com/team/my-service.git');
    await expect(
      action.handler(
        context({
          input: { ...input, repoUrl: 'elsewhere.example.com?owner=a&repo=b' },
        }),
      ),
    ).rejects.toThrow(/elsewhere\.example\.com/);
    expect(calls).toHaveLength(1);
  });

  it('fails with the backend\u2019s reason, e.g. an unknown cluster', async () => {
    const { api } = fakeBackend(async () => {
      throw await ResponseError.fromResponse(
        new Response(
          JSON.stringify({
            error: { name: 'InputError', message: 'Unknown cluster "staging"' },
            response: { statusCode: 400 },
          }),
          {
            status: 400,
            statusText: 'Bad Request',
            headers: { 'Content-Type': 'application/json' },
          },
        ) as any,
      );
    });
    const action = createRegisterDeliveryRepoAction({ integrations, api });
    await expect(
      action.handler(
        context({
          input: { ...input, clusters: ['staging'] },
          isDryRun: true,
        }),
      ),
    ).rejects.toThrow(/Unknown cluster "staging"/);
  });

  it('waits for the catalog to have the entity the template just registered', async () => {
    let attempts = 0;
    const { api } = fakeBackend(async () => {
      attempts += 1;
      if (attempts < 3) {
        throw await notFound(
          'No entity component:default/my-service in the catalog',
        );
      }
      return { dryRun: false, deliveryRepositoryId: 'repo-2', clusters: [] };
    });
    const action = createRegisterDeliveryRepoAction({
      integrations,
      api,
      pollIntervalMs: 1,
    });
    const ctx = context({ input });
    await action.handler(ctx);
    expect(attempts).toBe(3);
    expect(ctx.output).toHaveBeenCalledWith('deliveryRepositoryId', 'repo-2');
  });

  it('gives up waiting for the entity after its timeout', async () => {
    const { api } = fakeBackend(async () => {
      throw await notFound(
        'No entity component:default/my-service in the catalog',
      );
    });
    const action = createRegisterDeliveryRepoAction({
      integrations,
      api,
      entityTimeoutMs: 20,
      pollIntervalMs: 5,
    });
    await expect(action.handler(context({ input }))).rejects.toThrow(
      /No entity component:default\/my-service/,
    );
  });

  it('does the work inside a checkpoint, so a retried task does not do it twice', async () => {
    const { api, calls } = fakeBackend();
    const action = createRegisterDeliveryRepoAction({ integrations, api });
    const stored = new Map<string, unknown>();
    const checkpoint = jest.fn(
      async ({ key, fn }: { key: string; fn: () => Promise<unknown> }) => {
        if (!stored.has(key)) stored.set(key, await fn());
        return stored.get(key);
      },
    );
    for (let run = 0; run < 2; run++) {
      await action.handler(context({ input, checkpoint: checkpoint as any }));
    }
    expect(checkpoint).toHaveBeenCalledTimes(2);
    expect(calls).toHaveLength(1);
  });
});
