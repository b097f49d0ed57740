import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../kube/types';
import {
  conditionOf,
  eventsFor,
  requestReconcile,
  startTestCluster,
  waitFor,
  waitForReady,
  type TestCluster,
} from '../__testUtils__/cluster';
import {
  TestRepository,
  startGitServer,
  type TestGitServer,
} from '../__testUtils__/gitServer';
import { GIT_REPOSITORY_TYPE } from '../source';
import { KUSTOMIZATION_TYPE } from '.';

const NS = 'flux-system';
const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

const BASE = {
  'base/kustomization.yaml':
    'resources:\n  - configmap.yaml\n  - deployment.yaml\n',
  'base/configmap.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  color: blue\n',
  'base/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: app',
    'spec:',
    '  replicas: 2',
    '  selector:',
    '    matchLabels: {app: web}',
    '  template:',
    '    metadata:',
    '      labels: {app: web}',
    '    spec:',
    '      containers:',
    '        - name: web',
    '          image: nginx:1.27',
    '',
  ].join('\n'),
  'overlays/prod/kustomization.yaml':
    'resources:\n  - ../../base\nnamePrefix: prod-\n',
  'broken/kustomization.yaml': 'resources:\n  - missing.yaml\n',
  'invalid/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: bad',
    'spec:',
    '  selector:',
    '    matchLabels: {app: one}',
    '  template:',
    '    metadata:',
    '      labels: {app: other}',
    '    spec:',
    '      containers: [{name: c, image: nginx}]',
    '',
  ].join('\n'),
  'plain/configmap.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: "1"\n',
};

function kustomization(
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    ...KUSTOMIZATION_TYPE,
    metadata: { name, namespace: NS },
    spec: {
      interval: '10m',
      sourceRef: { kind: 'GitRepository', name: 'repo' },
      prune: true,
      ...spec,
    },
  };
}

function statusOf(object: KubeObject | undefined): Record<string, any> {
  return (object?.status ?? {}) as Record<string, any>;
}

describe('kustomize-controller', () => {
  let root: string;
  let repo: TestRepository;
  let server: TestGitServer;
  let cluster: TestCluster;
  let sha: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'controllers-ks-'));
    repo = await TestRepository.create(root, 'fleet');
    sha = await repo.commit(BASE, 'Initial fleet');
    server = await startGitServer(root);
    cluster = await startTestCluster();
    const { store } = cluster;
    for (const name of [NS, 'apps']) {
      store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    store.create({
      ...GIT_REPOSITORY_TYPE,
      metadata: { name: 'repo', namespace: NS },
      spec: {
        interval: '10m',
        url: `${server.url}/fleet.git`,
        ref: { branch: 'main' },
      },
    });
    await waitForReady(store, GIT_REPOSITORY_TYPE, NS, 'repo');
  });

  afterAll(async () => {
    await cluster.dispose();
    await server.stop();
    await repo.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('applies an overlay into the target namespace, records inventory and history, waits for health, then prunes', async () => {
    const { store } = cluster;
    store.create(
      kustomization('prod', {
        path: './overlays/prod',
        targetNamespace: 'apps',
        wait: true,
        timeout: '30s',
      }),
    );
    const ready = await waitForReady(store, KUSTOMIZATION_TYPE, NS, 'prod');
    const revision = `main@sha1:${sha}`;
    expect(conditionOf(ready, 'Ready')).toMatchObject({
      reason: 'ReconciliationSucceeded',
      message: `Applied revision: ${revision}`,
    });
    expect(conditionOf(ready, 'Healthy')).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
    expect(conditionOf(ready, 'Reconciling')).toBeUndefined();
    const status = statusOf(ready);
    expect(status).toMatchObject({
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      observedGeneration: 1,
      inventory: {
        entries: [
          { id: 'apps_prod-config__ConfigMap', v: 'v1' },
          { id: 'apps_prod-app_apps_Deployment', v: 'v1' },
        ],
      },
    });
    expect(status.history).toHaveLength(1);
    expect(status.history[0]).toMatchObject({
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      lastReconciledStatus: 'ReconciliationSucceeded',
      totalReconciliations: 1,
      metadata: { revision },
    });

    const config = store.get(CONFIGMAP, 'apps', 'prod-config')!;
    expect(config.metadata.labels).toMatchObject({
      'kustomize.toolkit.fluxcd.io/name': 'prod',
      'kustomize.toolkit.fluxcd.io/namespace': NS,
    });
    const deployment = store.get(DEPLOYMENT, 'apps', 'prod-app')!;
    expect(statusOf(deployment)).toMatchObject({
      readyReplicas: 2,
      availableReplicas: 2,
    });

    const events = eventsFor(store, ready) as Array<Record<string, any>>;
    expect(
      events.find(
        e =>
          e.message ===
          'ConfigMap/apps/prod-config created\nDeployment/apps/prod-app created',
      ),
    ).toMatchObject({
      reason: 'Progressing',
      metadata: {
        annotations: { 'kustomize.toolkit.fluxcd.io/revision': revision },
      },
    });
    expect(
      events.find(e => e.reason === 'ReconciliationSucceeded'),
    ).toMatchObject({
      type: 'Normal',
      source: { component: 'kustomize-controller' },
      message: expect.stringMatching(
        /^Reconciliation finished in .+, next run in 10m0s$/,
      ),
      metadata: {
        annotations: {
          'kustomize.toolkit.fluxcd.io/revision': revision,
          'kustomize.toolkit.fluxcd.io/commit_status': 'update',
        },
      },
    });

    // Drift is corrected on the next reconciliation.
    store.mergePatch(CONFIGMAP, 'apps', 'prod-config', {
      data: { color: 'red' },
    });
    requestReconcile(store, KUSTOMIZATION_TYPE, NS, 'prod');
    await waitFor(
      () =>
        (
          store.get(CONFIGMAP, 'apps', 'prod-config')?.data as Record<
            string,
            string
          >
        ).color === 'blue',
    );

    // A commit removing the ConfigMap reaches the Kustomization through the source's new revision.
    const next = await repo.commit(
      {
        'base/configmap.yaml': null,
        'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
      },
      'Drop the config',
    );
    requestReconcile(store, GIT_REPOSITORY_TYPE, NS, 'repo');
    const pruned = await waitFor(
      () => {
        const object = store.get(KUSTOMIZATION_TYPE, NS, 'prod');
        return statusOf(object).lastAppliedRevision === `main@sha1:${next}`
          ? object
          : undefined;
      },
      () => store.get(KUSTOMIZATION_TYPE, NS, 'prod')?.status,
    );
    expect(store.get(CONFIGMAP, 'apps', 'prod-config')).toBeUndefined();
    expect(statusOf(pruned).inventory.entries).toEqual([
      { id: 'apps_prod-app_apps_Deployment', v: 'v1' },
    ]);
    expect(statusOf(pruned).history).toHaveLength(2);
    expect(statusOf(pruned).history[0].metadata.revision).toBe(
      `main@sha1:${next}`,
    );
    expect(
      (eventsFor(store, pruned) as Array<Record<string, any>>).some(
        e => e.message === 'ConfigMap/apps/prod-config deleted',
      ),
    ).toBe(true);
  });

  it('waits for dependsOn and starts as soon as the dependency is ready', async () => {
    const { store } = cluster;
    store.create(
      kustomization('second', {
        path: './plain',
        targetNamespace: 'apps',
        dependsOn: [{ name: 'first' }],
      }),
    );
    const waiting = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'second',
      'False',
      'DependencyNotReady',
    );
    expect(conditionOf(waiting, 'Ready')?.message).toBe(
      `dependency '${NS}/first' not found: kustomizations.kustomize.toolkit.fluxcd.io "first" not found`,
    );
    expect(store.get(CONFIGMAP, 'apps', 'plain')).toBeUndefined();
    store.create(
      kustomization('first', {
        path: './overlays/prod',
        targetNamespace: 'apps',
      }),
    );
    // Far sooner than the 30s dependency requeue: the dependency's readiness wakes it up.
    await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'second',
      'True',
      undefined,
      10_000,
    );
    expect(store.get(CONFIGMAP, 'apps', 'plain')).toBeDefined();
  });

  it('reports a missing source as ArtifactFailed with the API error', async () => {
    const { store } = cluster;
    store.create(
      kustomization('orphan', {
        path: './plain',
        sourceRef: { kind: 'GitRepository', name: 'missing' },
      }),
    );
    const failed = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'orphan',
      'False',
    );
    expect(conditionOf(failed, 'Ready')).toMatchObject({
      reason: 'ArtifactFailed',
      message: 'gitrepositories.source.toolkit.fluxcd.io "missing" not found',
    });
    expect(conditionOf(failed, 'Reconciling')).toBeUndefined();
  });

  it('reports a missing path as ArtifactFailed and a broken kustomization as BuildFailed', async () => {
    const { store } = cluster;
    store.create(kustomization('nopath', { path: './does-not-exist' }));
    store.create(kustomization('broken', { path: './broken' }));
    const nopath = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'nopath',
      'False',
    );
    expect(conditionOf(nopath, 'Ready')).toMatchObject({
      reason: 'ArtifactFailed',
      message: expect.stringMatching(
        /^kustomization path not found: stat .*\/kustomization-[^/]+\/does-not-exist: no such file or directory$/,
      ),
    });
    const broken = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'broken',
      'False',
    );
    expect(conditionOf(broken, 'Ready')).toMatchObject({
      reason: 'BuildFailed',
      message: expect.stringMatching(
        /^kustomize build failed: .*missing\.yaml/,
      ),
    });
    // Like kustomize-controller: Reconciling stays, retried, and the event is a Warning with the reason.
    expect(conditionOf(broken, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'ProgressingWithRetry',
    });
    expect(statusOf(broken).lastAttemptedRevision).toMatch(/^main@sha1:/);
    expect(statusOf(broken).lastAppliedRevision).toBeUndefined();
    const warning = (
      eventsFor(store, broken) as Array<Record<string, any>>
    ).find(e => e.type === 'Warning');
    expect(warning).toMatchObject({ reason: 'BuildFailed' });
  });

  it('fails with the API message when an object is invalid (422)', async () => {
    const { store } = cluster;
    store.create(
      kustomization('invalid', { path: './invalid', targetNamespace: 'apps' }),
    );
    const failed = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'invalid',
      'False',
    );
    expect(conditionOf(failed, 'Ready')).toMatchObject({
      reason: 'ReconciliationFailed',
      message: expect.stringContaining(
        'Deployment/apps/bad dry-run failed (Invalid): ',
      ),
    });
    expect(conditionOf(failed, 'Ready')?.message).toContain('selector');
    expect(statusOf(failed).history[0].lastReconciledStatus).toBe(
      'ReconciliationFailed',
    );
  });

  it('honours suspend: requestedAt is recorded but nothing is applied', async () => {
    const { store } = cluster;
    store.create(
      kustomization('paused', {
        path: './plain',
        targetNamespace: NS,
        suspend: true,
      }),
    );
    const requestedAt = requestReconcile(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'paused',
    );
    const handled = await waitFor(() => {
      const object = store.get(KUSTOMIZATION_TYPE, NS, 'paused');
      return statusOf(object).lastHandledReconcileAt === requestedAt
        ? object
        : undefined;
    });
    expect(statusOf(handled).inventory).toBeUndefined();
    expect(store.get(CONFIGMAP, NS, 'plain')).toBeUndefined();
  });

  it('applies the failApply and reconcile duration faults', async () => {
    const { store, flux } = cluster;
    flux.faults.setReconcileDuration(300);
    store.create(
      kustomization('slow', { path: './plain', targetNamespace: NS }),
    );
    const progressing = await waitFor(() => {
      const object = store.get(KUSTOMIZATION_TYPE, NS, 'slow');
      return conditionOf(object, 'Reconciling')?.status === 'True'
        ? object
        : undefined;
    });
    expect(conditionOf(progressing, 'Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'Progressing',
    });
    await waitForReady(store, KUSTOMIZATION_TYPE, NS, 'slow');
    flux.faults.setReconcileDuration(0);

    flux.faults.failApply(
      NS,
      'slow',
      'admission webhook "policy.example.com" denied the request',
    );
    requestReconcile(store, KUSTOMIZATION_TYPE, NS, 'slow');
    const failed = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'slow',
      'False',
      'ReconciliationFailed',
    );
    expect(conditionOf(failed, 'Ready')?.message).toContain(
      'admission webhook "policy.example.com" denied the request',
    );
    flux.faults.failApply(NS, 'slow', undefined);
    requestReconcile(store, KUSTOMIZATION_TYPE, NS, 'slow');
    await waitForReady(store, KUSTOMIZATION_TYPE, NS, 'slow');
  });

  it('garbage-collects its objects when deleted with prune enabled', async () => {
    const { store } = cluster;
    store.create(
      kustomization('gone', { path: './plain', targetNamespace: 'default' }),
    );
    await waitForReady(store, KUSTOMIZATION_TYPE, NS, 'gone');
    expect(store.get(CONFIGMAP, 'default', 'plain')).toBeDefined();
    store.delete(KUSTOMIZATION_TYPE, NS, 'gone');
    await waitFor(
      () => store.get(KUSTOMIZATION_TYPE, NS, 'gone') === undefined,
    );
    expect(store.get(CONFIGMAP, 'default', 'plain')).toBeUndefined();
  });
});
