import { ConflictError } from '@backstage/errors';
import { SandboxWorld, startWorld } from '@backstage-gitops/sandbox';
import { createServer, Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { GitOpsCluster } from '../clusters/types';
import { FluxActions, OperationStep } from './FluxActions';
import { FluxObjectRef } from './fluxKinds';

jest.setTimeout(60_000);

const VERSIONS: Record<string, string> = {
  'source.toolkit.fluxcd.io': 'v1',
  'kustomize.toolkit.fluxcd.io': 'v1',
  'helm.toolkit.fluxcd.io': 'v2',
  'notification.toolkit.fluxcd.io': 'v1',
};

const podinfo: FluxObjectRef = {
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'podinfo',
};
const kustomizationType = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
};
const gitRepositoryType = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};

function clusterFor(world: SandboxWorld, url?: string): GitOpsCluster {
  const sandbox = world.cluster('dev');
  return {
    name: 'dev',
    url: url ?? sandbox.api.url,
    source: 'config',
    // The sandbox speaks plain HTTP, which client-node only allows with this set.
    skipTLSVerify: true,
    auth: { type: 'serviceAccount', token: sandbox.tokens.backstage },
    settings: { fluxNamespace: 'flux-system', trustedServiceProxyPaths: [] },
  };
}

function actionsFor(world: SandboxWorld, url?: string) {
  return new FluxActions({
    kubeConfig: kubeConfigFor(clusterFor(world, url)),
    versionOf: group => VERSIONS[group],
    pollIntervalMs: 100,
  });
}

function isReady(object: object | undefined) {
  const conditions = (
    (object as { status?: unknown } | undefined)?.status as
      | { conditions?: any[] }
      | undefined
  )?.conditions;
  return !!conditions?.some(c => c.type === 'Ready' && c.status === 'True');
}

describe('FluxActions against the sandbox', () => {
  let world: SandboxWorld;
  let dataDir: string;
  const store = () => world.cluster('dev').api.store;
  const fluxFaults = () => world.cluster('dev').flux.faults;
  const stored = (type: typeof kustomizationType, name: string) =>
    store().get(type, 'flux-system', name)!;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitops-actions-'));
    world = await startWorld({
      dataDir,
      clusters: ['dev'],
      sourceInterval: '1m',
    });
    // The demo's first fetch and apply happen on their own after start.
    const deadline = Date.now() + 30_000;
    while (!isReady(stored(kustomizationType, 'podinfo'))) {
      if (Date.now() > deadline) throw new Error('podinfo never got Ready');
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reconciles a Kustomization and moves lastHandledReconcileAt', async () => {
    const steps: OperationStep[] = [];
    const object = await actionsFor(world).reconcile(podinfo, {
      timeoutMs: 30_000,
      onStep: s => {
        steps.push(s);
      },
    });
    const requested = steps.find(s => s.type === 'requested')!;
    expect(requested.requestedAt).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/,
    );
    expect(object.status?.lastHandledReconcileAt).toBe(requested.requestedAt);
    expect(
      (stored(kustomizationType, 'podinfo').status as any)
        .lastHandledReconcileAt,
    ).toBe(requested.requestedAt);
    expect(steps.map(s => s.type)).toEqual(['requested', 'applied', 'ready']);
    expect(steps[1].revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
  });

  it('with source, requests the GitRepository first', async () => {
    const steps: OperationStep[] = [];
    await actionsFor(world).reconcile(podinfo, {
      withSource: true,
      timeoutMs: 30_000,
      onStep: s => {
        steps.push(s);
      },
    });
    expect(steps.map(s => `${s.type} ${s.object.kind}`)).toEqual([
      'requested GitRepository',
      'fetched GitRepository',
      'ready GitRepository',
      'requested Kustomization',
      'applied Kustomization',
      'ready Kustomization',
    ]);
    const sourceAt = stored(gitRepositoryType, 'team-delivery').metadata
      .annotations!['reconcile.fluxcd.io/requestedAt'];
    const objectAt = stored(kustomizationType, 'podinfo').metadata.annotations![
      'reconcile.fluxcd.io/requestedAt'
    ];
    expect(Date.parse(sourceAt)).toBeLessThanOrEqual(Date.parse(objectAt));
    expect(sourceAt < objectAt).toBe(true);
  });

  it('refuses a suspended object without patching it', async () => {
    const actions = actionsFor(world);
    await actions.suspend(podinfo);
    const before = stored(kustomizationType, 'podinfo').metadata
      .resourceVersion;
    await expect(actions.reconcile(podinfo)).rejects.toThrow(ConflictError);
    await expect(
      actions.reconcile(podinfo, { withSource: true }),
    ).rejects.toThrow(/resource is suspended/);
    expect(stored(kustomizationType, 'podinfo').metadata.resourceVersion).toBe(
      before,
    );
    expect(
      stored(gitRepositoryType, 'team-delivery').metadata.resourceVersion,
    ).toBeDefined();

    const steps: OperationStep[] = [];
    await actions.resume(podinfo, {
      timeoutMs: 30_000,
      onStep: s => {
        steps.push(s);
      },
    });
    expect(stored(kustomizationType, 'podinfo').spec).toMatchObject({
      suspend: false,
    });
    expect(steps.map(s => s.type)).toEqual(['requested', 'applied', 'ready']);
  });

  it('retries when the object changes between the GET and the PATCH', async () => {
    // A proxy in front of the API server that updates the object just before the
    // first PATCH reaches it, so that PATCH meets a newer resourceVersion.
    const target = new URL(world.cluster('dev').api.url);
    let patches = 0;
    const proxy: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (req.method === 'PATCH' && patches++ === 0) {
        store().mergePatch(kustomizationType, 'flux-system', 'podinfo', {
          metadata: { labels: { touched: 'yes' } },
        });
      }
      // The sandbox API server speaks TLS with a self-signed certificate.
      const upstream = httpsRequest(
        new URL(req.url!, target),
        {
          method: req.method,
          headers: {
            authorization: req.headers.authorization!,
            'content-type': req.headers['content-type'] ?? 'application/json',
          },
          rejectUnauthorized: false,
        },
        answer => {
          res.writeHead(answer.statusCode!, {
            'content-type':
              answer.headers['content-type'] ?? 'application/json',
          });
          answer.pipe(res);
        },
      );
      upstream.on('error', error => res.destroy(error));
      upstream.end(Buffer.concat(chunks));
    });
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const object = await actionsFor(
        world,
        `http://127.0.0.1:${port}`,
      ).reconcile(podinfo, { timeoutMs: 30_000 });
      expect(patches).toBe(2);
      expect(object.status?.conditions).toContainEqual(
        expect.objectContaining({ type: 'Ready', status: 'True' }),
      );
    } finally {
      proxy.closeAllConnections();
      await new Promise(resolve => proxy.close(resolve));
    }
  });

  it('ends with the Ready=False message', async () => {
    fluxFaults().failApply('flux-system', 'podinfo', 'boom');
    try {
      const steps: OperationStep[] = [];
      await expect(
        actionsFor(world).reconcile(podinfo, {
          timeoutMs: 30_000,
          onStep: s => {
            steps.push(s);
          },
        }),
      ).rejects.toThrow(/boom/);
      expect(steps.map(s => s.type)).toEqual(['requested', 'failed']);
      expect(steps[1].message).toMatch(/boom/);
    } finally {
      fluxFaults().failApply('flux-system', 'podinfo', undefined);
    }
  });

  it('gives up after the timeout', async () => {
    fluxFaults().setReconcileDuration(5000);
    try {
      await expect(
        actionsFor(world).reconcile(podinfo, { timeoutMs: 1000 }),
      ).rejects.toThrow(
        /timed out waiting for Kustomization\/flux-system\/podinfo/,
      );
    } finally {
      fluxFaults().setReconcileDuration(0);
    }
  });

  describe('when the API server fails', () => {
    const apiFaults = () => world.cluster('dev').api.faults;
    afterEach(() => {
      apiFaults().failNext(0);
      apiFaults().setLatency(0);
    });

    it('retries 5xx and 429 answers with backoff and reconciles once', async () => {
      const steps: OperationStep[] = [];
      apiFaults().failNext(3, 503);
      await actionsFor(world).reconcile(podinfo, {
        onStep: step => {
          steps.push(step);
        },
      });
      expect(steps.filter(s => s.type === 'requested')).toHaveLength(1);
      expect(steps.at(-1)!.type).toBe('ready');

      apiFaults().failNext(2, 429);
      await actionsFor(world).suspend(podinfo);
      expect(
        (stored(kustomizationType, 'podinfo').spec as { suspend?: boolean })
          .suspend,
      ).toBe(true);
      await actionsFor(world).resume(podinfo);
    });

    it('gives up after a bounded number of retries, naming the answer', async () => {
      apiFaults().failNext(100, 500);
      const started = Date.now();
      const actions = new FluxActions({
        kubeConfig: kubeConfigFor(clusterFor(world)),
        versionOf: group => VERSIONS[group],
        retryBackoffMs: 50,
      });
      await expect(actions.suspend(podinfo)).rejects.toThrow(
        /Kubernetes API answered 500 for Kustomization\/flux-system\/podinfo/,
      );
      // Four retries of 25-50, 50-100, 100-200, 200-400 ms: bounded, not forever.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(apiFaults().describe().failNext.remaining).toBe(95);
    });

    it('rides out an API server that is down for a moment', async () => {
      await apiFaults().setDown(true);
      const actions = new FluxActions({
        kubeConfig: kubeConfigFor(clusterFor(world)),
        versionOf: group => VERSIONS[group],
        retryBackoffMs: 200,
      });
      const suspending = actions.suspend(podinfo);
      await new Promise(resolve => setTimeout(resolve, 300));
      await apiFaults().setDown(false);
      await suspending;
      expect(
        (stored(kustomizationType, 'podinfo').spec as { suspend?: boolean })
          .suspend,
      ).toBe(true);
      await actionsFor(world).resume(podinfo);

      await apiFaults().setDown(true);
      try {
        await expect(
          new FluxActions({
            kubeConfig: kubeConfigFor(clusterFor(world)),
            versionOf: group => VERSIONS[group],
            retryBackoffMs: 10,
          }).suspend(podinfo),
        ).rejects.toThrow(
          /Kubernetes API unreachable for Kustomization\/flux-system\/podinfo/,
        );
      } finally {
        await apiFaults().setDown(false);
      }
    });

    it('waits out a slow API server (5 s per call)', async () => {
      apiFaults().setLatency(5_000);
      const steps: OperationStep[] = [];
      await actionsFor(world).reconcile(podinfo, {
        onStep: step => {
          steps.push(step);
        },
      });
      expect(steps.map(s => s.type)).toContain('ready');
    }, 90_000);
  });
});
