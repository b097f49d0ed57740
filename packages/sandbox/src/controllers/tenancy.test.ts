import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, TypeRef } from '../kube/types';
import { parseManifests, renderTenantManifest } from '../world/tenants';
import {
  conditionOf,
  eventsFor,
  startTestCluster,
  waitFor,
  waitForReady,
  type TestCluster,
} from './__testUtils__/cluster';
import {
  TestRepository,
  startGitServer,
  type TestGitServer,
} from './__testUtils__/gitServer';
import { HELM_RELEASE_TYPE } from './helm';
import { KUSTOMIZATION_TYPE } from './kustomize';
import { GIT_REPOSITORY_TYPE } from './source';
import type { StartFluxControllersOptions } from '.';

// Git fetches, builds and a chart install: seconds each on a busy two-core machine.
jest.setTimeout(30_000);

const TENANT = 'team-apps';
const USER = 'system:serviceaccount:team-apps:team-apps';
const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };
const CLUSTER_ROLE_BINDING = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
};

const configMap = (name: string, namespace: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ndata:\n  a: "1"\n`;

const FLEET = {
  // A tenant trying to make itself cluster-admin, beside a harmless ConfigMap.
  'escalate/configmap.yaml': configMap('settings', TENANT),
  'escalate/binding.yaml': [
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRoleBinding',
    'metadata:',
    '  name: x',
    'roleRef:',
    '  apiGroup: rbac.authorization.k8s.io',
    '  kind: ClusterRole',
    '  name: cluster-admin',
    'subjects:',
    '  - kind: ServiceAccount',
    `    name: ${TENANT}`,
    `    namespace: ${TENANT}`,
    '',
  ].join('\n'),
  'own/configmap.yaml': configMap('settings', TENANT),
  'own/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: app',
    `  namespace: ${TENANT}`,
    'spec:',
    '  selector:',
    '    matchLabels: {app: web}',
    '  template:',
    '    metadata:',
    '      labels: {app: web}',
    '    spec:',
    '      containers: [{name: web, image: nginx}]',
    '',
  ].join('\n'),
  'other/configmap.yaml': configMap('intruder', 'default'),
  'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 1.2.3\n',
  'charts/web/values.yaml': 'message: hello\n',
  'charts/web/templates/configmap.yaml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ .Release.Name }}-config',
    '  namespace: {{ .Release.Namespace }}',
    'data:',
    '  message: {{ .Values.message | quote }}',
    '',
  ].join('\n'),
};

/** The message kube-apiserver's RBAC authorizer and fluxcd/pkg/ssa give a refused dry-run. */
function dryRunForbidden(
  object: string,
  resource: string,
  group: string,
  name: string,
  scope: string,
): string {
  const qualified = group ? `${resource}.${group}` : resource;
  return `${object} dry-run failed (Forbidden): ${qualified} "${name}" is forbidden: User "${USER}" cannot patch resource "${resource}" in API group "${group}" ${scope}`;
}

function kustomization(
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    ...KUSTOMIZATION_TYPE,
    metadata: { name, namespace: TENANT },
    spec: {
      interval: '10m',
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      prune: true,
      ...spec,
    },
  };
}

function get(
  cluster: TestCluster,
  type: TypeRef,
  namespace: string | undefined,
  name: string,
) {
  return cluster.store.get(type, namespace, name);
}

describe('Flux multi-tenancy: impersonation and the lockdown flags', () => {
  let root: string;
  let repo: TestRepository;
  let server: TestGitServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'controllers-tenancy-'));
    repo = await TestRepository.create(root, 'fleet');
    await repo.commit(FLEET, 'Tenant content');
    server = await startGitServer(root);
  });

  afterAll(async () => {
    await server.stop();
    await repo.dispose();
    await rm(root, { recursive: true, force: true });
  });

  /** A cluster with the tenant of deploy/kubernetes/tenant.yaml and its GitRepository. */
  async function tenantCluster(
    options: Partial<StartFluxControllersOptions> = {},
  ): Promise<TestCluster> {
    const cluster = await startTestCluster(options);
    const { store } = cluster;
    store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'flux-system' },
    });
    for (const object of parseManifests(renderTenantManifest(TENANT))) {
      store.create(object);
    }
    for (const namespace of [TENANT, 'flux-system']) {
      store.create({
        ...GIT_REPOSITORY_TYPE,
        metadata: { name: 'fleet', namespace },
        spec: {
          interval: '10m',
          url: `${server.url}/fleet.git`,
          ref: { branch: 'main' },
        },
      });
      await waitForReady(store, GIT_REPOSITORY_TYPE, namespace, 'fleet');
    }
    return cluster;
  }

  describe('spec.serviceAccountName (no controller flags)', () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      cluster = await tenantCluster();
    });

    afterAll(async () => {
      await cluster.dispose();
    });

    it('refuses a ClusterRoleBinding with the API server message and writes nothing of the apply', async () => {
      const { store } = cluster;
      store.create(
        kustomization('escalate', {
          path: './escalate',
          serviceAccountName: TENANT,
        }),
      );
      const failed = await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'escalate',
        'False',
        'ReconciliationFailed',
      );
      const message = dryRunForbidden(
        'ClusterRoleBinding/x',
        'clusterrolebindings',
        'rbac.authorization.k8s.io',
        'x',
        'at the cluster scope',
      );
      expect(conditionOf(failed, 'Ready')?.message).toBe(message);
      expect(
        eventsFor(store, failed).map(e => (e as { message?: string }).message),
      ).toContain(message);
      // The ConfigMap beside it passed its dry-run, but nothing was applied.
      expect(
        get(cluster, CLUSTER_ROLE_BINDING, undefined, 'x'),
      ).toBeUndefined();
      expect(get(cluster, CONFIGMAP, TENANT, 'settings')).toBeUndefined();
      expect(
        (failed.status as { inventory?: unknown }).inventory,
      ).toBeUndefined();

      // The controller's own rights (no account) would have applied it: the refusal is the account's.
      store.create({
        ...kustomization('escalate-as-controller', { path: './escalate' }),
      });
      await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'escalate-as-controller',
      );
      expect(get(cluster, CLUSTER_ROLE_BINDING, undefined, 'x')).toBeDefined();
      // Pruned again on deletion, so the account is no cluster-admin in the next tests.
      store.delete(KUSTOMIZATION_TYPE, TENANT, 'escalate-as-controller');
      await waitFor(
        () =>
          !get(cluster, KUSTOMIZATION_TYPE, TENANT, 'escalate-as-controller') &&
          !get(cluster, CLUSTER_ROLE_BINDING, undefined, 'x'),
      );
    });

    it("applies the tenant's own namespace, and refuses an object in another namespace", async () => {
      const { store } = cluster;
      store.create(
        kustomization('own', { path: './own', serviceAccountName: TENANT }),
      );
      const ready = await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'own',
      );
      expect(conditionOf(ready, 'Ready')?.reason).toBe(
        'ReconciliationSucceeded',
      );
      expect(get(cluster, CONFIGMAP, TENANT, 'settings')).toBeDefined();
      expect(get(cluster, DEPLOYMENT, TENANT, 'app')).toBeDefined();

      store.create(
        kustomization('other', { path: './other', serviceAccountName: TENANT }),
      );
      const refused = await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'other',
        'False',
        'ReconciliationFailed',
      );
      expect(conditionOf(refused, 'Ready')?.message).toBe(
        dryRunForbidden(
          'ConfigMap/default/intruder',
          'configmaps',
          '',
          'intruder',
          'in the namespace "default"',
        ),
      );
      expect(get(cluster, CONFIGMAP, 'default', 'intruder')).toBeUndefined();
    });

    it('helm-controller installs as the account: into its namespace, not into another', async () => {
      const { store } = cluster;
      const release = (name: string, targetNamespace: string): KubeObject => ({
        ...HELM_RELEASE_TYPE,
        metadata: { name, namespace: TENANT },
        spec: {
          interval: '10m',
          targetNamespace,
          serviceAccountName: TENANT,
          chart: {
            spec: {
              chart: './charts/web',
              sourceRef: { kind: 'GitRepository', name: 'fleet' },
            },
          },
        },
      });
      store.create(release('web', TENANT));
      const installed = await waitForReady(
        store,
        HELM_RELEASE_TYPE,
        TENANT,
        'web',
      );
      expect(conditionOf(installed, 'Ready')?.reason).toBe('InstallSucceeded');
      expect(
        get(cluster, CONFIGMAP, TENANT, `${TENANT}-web-config`),
      ).toBeDefined();

      store.create(release('web-elsewhere', 'default'));
      const failed = await waitForReady(
        store,
        HELM_RELEASE_TYPE,
        TENANT,
        'web-elsewhere',
        'False',
        'InstallFailed',
      );
      expect(conditionOf(failed, 'Ready')?.message).toBe(
        `Helm install failed for release default/default-web-elsewhere with chart web@1.2.3: ${dryRunForbidden(
          'ConfigMap/default/default-web-elsewhere-config',
          'configmaps',
          '',
          'default-web-elsewhere-config',
          'in the namespace "default"',
        )}`,
      );
      expect(
        get(cluster, CONFIGMAP, 'default', 'default-web-elsewhere-config'),
      ).toBeUndefined();
    });
  });

  describe('--default-service-account and --no-cross-namespace-refs', () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      cluster = await tenantCluster({
        defaultServiceAccount: TENANT,
        noCrossNamespaceRefs: true,
      });
    });

    afterAll(async () => {
      await cluster.dispose();
    });

    it('applies objects without serviceAccountName as the default account of their namespace', async () => {
      const { store } = cluster;
      store.create(kustomization('escalate', { path: './escalate' }));
      const failed = await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'escalate',
        'False',
        'ReconciliationFailed',
      );
      expect(conditionOf(failed, 'Ready')?.message).toBe(
        dryRunForbidden(
          'ClusterRoleBinding/x',
          'clusterrolebindings',
          'rbac.authorization.k8s.io',
          'x',
          'at the cluster scope',
        ),
      );
      expect(
        get(cluster, CLUSTER_ROLE_BINDING, undefined, 'x'),
      ).toBeUndefined();

      store.create(kustomization('own', { path: './own' }));
      await waitForReady(store, KUSTOMIZATION_TYPE, TENANT, 'own');
      expect(get(cluster, DEPLOYMENT, TENANT, 'app')).toBeDefined();
    });

    it('refuses a sourceRef into another namespace: AccessDenied, stalled', async () => {
      const { store } = cluster;
      store.create(
        kustomization('cross', {
          path: './own',
          sourceRef: {
            kind: 'GitRepository',
            name: 'fleet',
            namespace: 'flux-system',
          },
        }),
      );
      const denied = await waitForReady(
        store,
        KUSTOMIZATION_TYPE,
        TENANT,
        'cross',
        'False',
        'AccessDenied',
      );
      const message =
        "can't access 'GitRepository/flux-system/fleet', cross-namespace references have been blocked";
      expect(conditionOf(denied, 'Ready')?.message).toBe(message);
      expect(conditionOf(denied, 'Stalled')).toMatchObject({
        status: 'True',
        reason: 'AccessDenied',
        message,
      });
      expect(conditionOf(denied, 'Reconciling')).toBeUndefined();
      await waitFor(() =>
        eventsFor(store, denied).some(
          e => (e as { message?: string }).message === message,
        ),
      );
    });
  });
});
