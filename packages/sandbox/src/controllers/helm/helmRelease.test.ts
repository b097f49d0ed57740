import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
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
import { GIT_REPOSITORY_TYPE, HELM_CHART_TYPE } from '../source';
import { HELM_RELEASE_TYPE } from '.';

// Git chart installs and upgrades: seconds each on a busy two-core machine.
jest.setTimeout(30_000);

const NS = 'flux-system';
const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };
const SECRET = { apiVersion: 'v1', kind: 'Secret' };

const CHART = {
  'charts/web/Chart.yaml':
    'apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: "2.0"\n',
  'charts/web/values.yaml':
    'replicaCount: 1\nimage:\n  repository: nginx\n  tag: "1.27"\nmessage: hello\n',
  'charts/web/templates/_helpers.tpl':
    '{{- define "web.name" -}}web{{- end -}}\n',
  'charts/web/templates/configmap.yaml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ .Release.Name }}-config',
    '  namespace: {{ .Release.Namespace }}',
    'data:',
    '  message: {{ .Values.message | quote }}',
    '  chart: {{ .Chart.Name }}-{{ .Chart.Version }}',
    '',
  ].join('\n'),
  'charts/web/templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ .Release.Name }}',
    'spec:',
    '  replicas: {{ .Values.replicaCount }}',
    '  selector:',
    '    matchLabels: {app: web}',
    '  template:',
    '    metadata:',
    '      labels: {app: web}',
    '    spec:',
    '      containers:',
    '        - name: web',
    '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
    '',
  ].join('\n'),
};

function helmRelease(
  name: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    ...HELM_RELEASE_TYPE,
    metadata: { name, namespace: NS },
    spec: {
      interval: '10m',
      targetNamespace: 'apps',
      chart: {
        spec: {
          chart: './charts/web',
          sourceRef: { kind: 'GitRepository', name: 'charts' },
        },
      },
      ...spec,
    },
  };
}

function statusOf(object: KubeObject | undefined): Record<string, any> {
  return (object?.status ?? {}) as Record<string, any>;
}

describe('helm-controller', () => {
  let root: string;
  let repo: TestRepository;
  let server: TestGitServer;
  let cluster: TestCluster;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'controllers-helm-'));
    repo = await TestRepository.create(root, 'charts');
    await repo.commit(CHART, 'Add the web chart');
    server = await startGitServer(root);
    cluster = await startTestCluster();
    const { store } = cluster;
    for (const name of [NS, 'apps'])
      store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    store.create({
      ...GIT_REPOSITORY_TYPE,
      metadata: { name: 'charts', namespace: NS },
      spec: {
        interval: '10m',
        url: `${server.url}/charts.git`,
        ref: { branch: 'main' },
      },
    });
  });

  afterAll(async () => {
    await cluster.dispose();
    await server.stop();
    await repo.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('installs a Git chart through its HelmChart, then upgrades on values, force and chart version changes', async () => {
    const { store } = cluster;
    store.create(helmRelease('web', { values: { message: 'from-release' } }));

    const chart = await waitForReady(
      store,
      HELM_CHART_TYPE,
      NS,
      'flux-system-web',
    );
    expect(chart.metadata.labels).toMatchObject({
      'helm.toolkit.fluxcd.io/name': 'web',
      'helm.toolkit.fluxcd.io/namespace': NS,
    });
    expect(statusOf(chart).artifact.revision).toBe('1.2.3');
    expect(conditionOf(chart, 'Ready')?.message).toBe(
      "packaged 'web' chart with version '1.2.3'",
    );

    const installed = await waitForReady(store, HELM_RELEASE_TYPE, NS, 'web');
    const message =
      'Helm install succeeded for release apps/apps-web.v1 with chart web@1.2.3';
    expect(conditionOf(installed, 'Ready')).toMatchObject({
      reason: 'InstallSucceeded',
      message,
    });
    expect(conditionOf(installed, 'Released')).toMatchObject({
      status: 'True',
      reason: 'InstallSucceeded',
      message,
    });
    expect(conditionOf(installed, 'Reconciling')).toBeUndefined();
    const status = statusOf(installed);
    expect(status).toMatchObject({
      helmChart: `${NS}/flux-system-web`,
      lastAttemptedRevision: '1.2.3',
      lastAttemptedReleaseAction: 'install',
      lastAttemptedConfigDigest: expect.stringMatching(/^sha256:/),
      storageNamespace: NS,
      observedGeneration: 1,
    });
    expect(status.history).toEqual([
      expect.objectContaining({
        name: 'apps-web',
        namespace: 'apps',
        version: 1,
        status: 'deployed',
        chartName: 'web',
        chartVersion: '1.2.3',
        appVersion: '2.0',
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        configDigest: status.lastAttemptedConfigDigest,
      }),
    ]);
    const config = store.get(CONFIGMAP, 'apps', 'apps-web-config')!;
    expect(config.data).toEqual({
      message: 'from-release',
      chart: 'web-1.2.3',
    });
    expect(config.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'Helm',
      'helm.toolkit.fluxcd.io/name': 'web',
    });
    expect(config.metadata.annotations).toMatchObject({
      'meta.helm.sh/release-name': 'apps-web',
      'meta.helm.sh/release-namespace': 'apps',
    });
    const deployment = store.get(DEPLOYMENT, 'apps', 'apps-web')!;
    expect((deployment.spec as any).template.spec.containers[0].image).toBe(
      'nginx:1.27',
    );

    const release = store.get(SECRET, NS, 'sh.helm.release.v1.apps-web.v1')!;
    expect(release).toMatchObject({
      type: 'helm.sh/release.v1',
      metadata: { labels: { owner: 'helm', status: 'deployed', version: '1' } },
    });
    const payload = JSON.parse(
      gunzipSync(
        Buffer.from(
          Buffer.from((release.data as any).release, 'base64').toString(),
          'base64',
        ),
      ).toString(),
    );
    expect(payload).toMatchObject({
      name: 'apps-web',
      namespace: 'apps',
      version: 1,
      info: { status: 'deployed' },
    });
    expect(
      (eventsFor(store, installed) as any[]).find(
        e => e.reason === 'InstallSucceeded',
      ),
    ).toMatchObject({
      message,
      metadata: { annotations: { 'helm.toolkit.fluxcd.io/revision': '1.2.3' } },
    });

    // New values: an upgrade to v2, v1 superseded.
    store.mergePatch(HELM_RELEASE_TYPE, NS, 'web', {
      spec: { values: { message: 'changed' } },
    });
    const upgraded = await waitForReady(
      store,
      HELM_RELEASE_TYPE,
      NS,
      'web',
      'True',
      'UpgradeSucceeded',
    );
    expect(
      statusOf(upgraded).history.map((s: any) => [s.version, s.status]),
    ).toEqual([
      [2, 'deployed'],
      [1, 'superseded'],
    ]);
    expect(statusOf(upgraded).lastAttemptedReleaseAction).toBe('upgrade');
    expect(
      (store.get(CONFIGMAP, 'apps', 'apps-web-config')!.data as any).message,
    ).toBe('changed');
    expect(
      store.get(SECRET, NS, 'sh.helm.release.v1.apps-web.v1')?.metadata.labels
        ?.status,
    ).toBe('superseded');

    // forceAt counts only together with the same requestedAt.
    const at = new Date().toISOString();
    requestReconcile(store, HELM_RELEASE_TYPE, NS, 'web', {
      'reconcile.fluxcd.io/forceAt': 'not-the-same',
    });
    await waitFor(
      () =>
        statusOf(store.get(HELM_RELEASE_TYPE, NS, 'web'))
          .lastHandledReconcileAt !== undefined,
    );
    expect(
      statusOf(store.get(HELM_RELEASE_TYPE, NS, 'web')).history[0].version,
    ).toBe(2);
    store.mergePatch(HELM_RELEASE_TYPE, NS, 'web', {
      metadata: {
        annotations: {
          'reconcile.fluxcd.io/requestedAt': at,
          'reconcile.fluxcd.io/forceAt': at,
          'reconcile.fluxcd.io/resetAt': at,
        },
      },
    });
    const forced = await waitFor(() => {
      const object = store.get(HELM_RELEASE_TYPE, NS, 'web');
      return statusOf(object).lastHandledForceAt === at ? object : undefined;
    });
    expect(statusOf(forced)).toMatchObject({
      lastHandledResetAt: at,
      lastHandledReconcileAt: at,
    });
    expect(statusOf(forced).history[0]).toMatchObject({
      version: 3,
      status: 'deployed',
    });

    // A new chart version in Git reaches the release through GitRepository → HelmChart → HelmRelease.
    await repo.commit(
      {
        'charts/web/Chart.yaml': CHART['charts/web/Chart.yaml'].replace(
          '1.2.3',
          '1.2.4',
        ),
      },
      'Bump chart',
    );
    requestReconcile(store, GIT_REPOSITORY_TYPE, NS, 'charts');
    const bumped = await waitFor(
      () => {
        const object = store.get(HELM_RELEASE_TYPE, NS, 'web');
        return statusOf(object).history?.[0]?.chartVersion === '1.2.4' &&
          conditionOf(object, 'Ready')?.status === 'True'
          ? object
          : undefined;
      },
      () => store.get(HELM_RELEASE_TYPE, NS, 'web')?.status,
    );
    expect(conditionOf(bumped, 'Ready')?.message).toBe(
      'Helm upgrade succeeded for release apps/apps-web.v4 with chart web@1.2.4',
    );

    // Deleting the HelmRelease uninstalls it and removes its HelmChart.
    store.delete(HELM_RELEASE_TYPE, NS, 'web');
    await waitFor(() => store.get(HELM_RELEASE_TYPE, NS, 'web') === undefined);
    expect(store.get(CONFIGMAP, 'apps', 'apps-web-config')).toBeUndefined();
    expect(store.get(DEPLOYMENT, 'apps', 'apps-web')).toBeUndefined();
    expect(
      store.list(SECRET, {
        namespace: NS,
        labelSelector: 'owner=helm,name=apps-web',
      }).items,
    ).toEqual([]);
    await waitFor(
      () => store.get(HELM_CHART_TYPE, NS, 'flux-system-web') === undefined,
    );
  });

  it('stalls after a failed install (no retries by default) and installs after a reset', async () => {
    const { store, flux } = cluster;
    flux.faults.failApply(
      NS,
      'flaky',
      'Internal error occurred: etcdserver: request timed out',
    );
    store.create(helmRelease('flaky'));
    const stalled = await waitFor(
      () => {
        const object = store.get(HELM_RELEASE_TYPE, NS, 'flaky');
        return conditionOf(object, 'Stalled')?.status === 'True'
          ? object
          : undefined;
      },
      () => store.get(HELM_RELEASE_TYPE, NS, 'flaky')?.status,
    );
    expect(conditionOf(stalled, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InstallFailed',
      message: expect.stringContaining(
        'Helm install failed for release apps/apps-flaky with chart web@1.2.',
      ),
    });
    expect(conditionOf(stalled, 'Stalled')).toMatchObject({
      reason: 'RetriesExceeded',
      message: 'Failed to install after 1 attempt(s)',
    });
    expect(statusOf(stalled)).toMatchObject({
      failures: 1,
      installFailures: 1,
      history: [expect.objectContaining({ status: 'failed' })],
    });

    flux.faults.failApply(NS, 'flaky', undefined);
    const at = new Date().toISOString();
    store.mergePatch(HELM_RELEASE_TYPE, NS, 'flaky', {
      metadata: {
        annotations: {
          'reconcile.fluxcd.io/requestedAt': at,
          'reconcile.fluxcd.io/resetAt': at,
        },
      },
    });
    const installed = await waitForReady(
      store,
      HELM_RELEASE_TYPE,
      NS,
      'flaky',
      'True',
      'InstallSucceeded',
    );
    expect(conditionOf(installed, 'Stalled')).toBeUndefined();
    expect(statusOf(installed).lastHandledResetAt).toBe(at);
  });
});
