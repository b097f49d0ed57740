import { startGitLab, type RunningGitLab } from '../../gitlab';
import type { KubeClusterStore } from '../../kube/store';
import type { KubeObject } from '../../kube/types';
import { recordEvent } from '../events';
import {
  startNotificationController,
  type NotificationController,
} from './controller';
import { createTestStore, secretData, waitFor } from './testEnv';

const NS = 'flux-system';

describe('commit statuses on the simulated GitLab', () => {
  let gitlab: RunningGitLab;
  let store: KubeClusterStore;
  let controller: NotificationController;

  beforeEach(async () => {
    gitlab = await startGitLab();
    store = createTestStore();
  });

  afterEach(async () => {
    await controller.stop();
    store.close();
    await gitlab.stop();
  });

  it('sets one status per state on the commit a Kustomization applied', async () => {
    gitlab.api.createUser({ username: 'alice', name: 'Alice' });
    gitlab.api.createGroup({ path: 'platform', owner: 'alice' });
    await gitlab.api.createProject({
      namespace: 'platform',
      path: 'fleet',
      files: { 'README.md': '# Fleet\n' },
      creator: 'alice',
    });
    const sha = await gitlab.api.commitFiles('platform/fleet', {
      files: { 'apps/app.yaml': 'kind: ConfigMap\n' },
      message: 'Add app',
      author: 'alice',
    });
    const { token } = gitlab.api.createProjectAccessToken('platform/fleet', {
      scopes: ['api'],
      accessLevel: 40,
    });

    store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitlab-token', namespace: NS },
      data: secretData({ token }),
    });
    const provider = store.create({
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Provider',
      metadata: { name: 'gitlab', namespace: NS },
      spec: {
        type: 'gitlab',
        address: `${gitlab.url}/platform/fleet.git`,
        secretRef: { name: 'gitlab-token' },
      },
    });
    store.create({
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: { name: 'fleet', namespace: NS },
      spec: {
        providerRef: { name: 'gitlab' },
        eventSources: [{ kind: 'Kustomization', name: 'apps' }],
      },
    });
    const kustomization: KubeObject = store.create({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: NS },
      spec: { interval: '10m', prune: true },
    });
    controller = startNotificationController({ store });

    const finished = (message: string) =>
      recordEvent(store, kustomization, {
        type: 'Normal',
        reason: 'ReconciliationSucceeded',
        message,
        metadata: { revision: `main@sha1:${sha}`, commit_status: 'update' },
        reportingController: 'kustomize-controller',
      });
    finished('Reconciliation finished in 1.1s, next run in 10m0s');
    await waitFor(() => controller.deliveries.length === 1, 'first delivery');
    finished('Reconciliation finished in 0.9s, next run in 10m0s');
    await waitFor(() => controller.deliveries.length === 2, 'second delivery');

    expect(controller.deliveries.map(d => d.outcome)).toEqual([
      'delivered',
      'skipped',
    ]);
    const response = await fetch(
      `${gitlab.url}/api/v4/projects/platform%2Ffleet/repository/commits/${sha}/statuses`,
      { headers: { 'PRIVATE-TOKEN': token } },
    );
    const statuses = (await response.json()) as Array<Record<string, unknown>>;
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({
      sha,
      ref: 'main',
      name: `kustomization/apps/${provider.metadata.uid!.split('-')[0]}`,
      status: 'success',
      description: 'reconciliation succeeded',
    });
  });
});
