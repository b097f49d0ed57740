import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startTestCluster,
  statusOf,
  type TestCluster,
} from './__testUtils__/cluster';
import {
  rulesForServiceAccount,
  rulesFromStore,
  serviceAccountIdentity,
} from './rbac';
import { impersonate } from './impersonation';
import { createClusterStore } from './store';
import { loadResourceTypes } from './resourceTypes';
import { TokenAuthorizer, RequestAttributes } from './authorization';

const DEPLOY = readFileSync(
  join(__dirname, '../../../../deploy/kubernetes/rbac.yaml'),
  'utf8',
);
const ACCOUNT = { name: 'backstage-gitops', namespace: 'flux-system' };

function allowed(
  rules: ReturnType<typeof rulesForServiceAccount>,
  request: RequestAttributes,
): boolean {
  const authorizer = new TokenAuthorizer({ t: { user: 'u', rules } });
  try {
    authorizer.authorize(authorizer.authenticate('Bearer t')!, request);
    return true;
  } catch {
    return false;
  }
}

const kustomizations = {
  group: 'kustomize.toolkit.fluxcd.io',
  resource: 'kustomizations',
};
const secrets = { group: '', resource: 'secrets' };
const receivers = {
  group: 'notification.toolkit.fluxcd.io',
  resource: 'receivers',
};

describe('rulesForServiceAccount', () => {
  it("grants the backend's account what deploy/ documents, and secrets and receivers only where bound", () => {
    const rules = rulesForServiceAccount(DEPLOY, ACCOUNT);
    const can = (request: RequestAttributes) => allowed(rules, request);

    // Read Flux and events everywhere, patch Flux objects (reconcile, suspend) everywhere.
    expect(can({ verb: 'watch', ...kustomizations })).toBe(true);
    expect(can({ verb: 'list', group: '', resource: 'events' })).toBe(true);
    expect(
      can({ verb: 'patch', ...kustomizations, namespace: 'apps', name: 'a' }),
    ).toBe(true);
    // But never delete or create Flux objects outside the Flux namespace.
    expect(
      can({ verb: 'delete', ...kustomizations, namespace: 'apps', name: 'a' }),
    ).toBe(false);
    expect(can({ verb: 'create', ...kustomizations, namespace: 'apps' })).toBe(
      false,
    );
    expect(
      can({ verb: 'create', ...kustomizations, namespace: 'flux-system' }),
    ).toBe(true);

    // Secrets: never listed or watched, read and written only in the Flux namespace.
    expect(can({ verb: 'list', ...secrets })).toBe(false);
    expect(can({ verb: 'watch', ...secrets, namespace: 'flux-system' })).toBe(
      false,
    );
    expect(
      can({ verb: 'get', ...secrets, namespace: 'flux-system', name: 's' }),
    ).toBe(true);
    expect(can({ verb: 'get', ...secrets, namespace: 'apps', name: 's' })).toBe(
      false,
    );
    expect(can({ verb: 'create', ...receivers, namespace: 'apps' })).toBe(
      false,
    );
    expect(
      can({ verb: 'create', ...receivers, namespace: 'flux-system' }),
    ).toBe(true);

    // Nothing else: Deployments, ConfigMaps, RBAC itself.
    expect(
      can({ verb: 'get', group: 'apps', resource: 'deployments', name: 'x' }),
    ).toBe(false);
    expect(
      can({
        verb: 'create',
        group: 'rbac.authorization.k8s.io',
        resource: 'rolebindings',
        namespace: 'flux-system',
      }),
    ).toBe(false);
  });

  it('grants nothing to an account no binding names, and refuses a binding to an undefined role', () => {
    expect(
      rulesForServiceAccount(DEPLOY, {
        name: 'other',
        namespace: 'flux-system',
      }),
    ).toEqual([]);
    expect(() =>
      rulesForServiceAccount(
        `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: b, namespace: apps }
roleRef: { kind: Role, name: missing }
subjects: [{ kind: ServiceAccount, name: sa, namespace: apps }]
`,
        { name: 'sa', namespace: 'apps' },
      ),
    ).toThrow(/refers to Role apps\/missing/);
  });

  it('grants a namespaced Role in its binding namespace only', () => {
    const rules = rulesForServiceAccount(
      `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: reader, namespace: apps }
rules: [{ apiGroups: [''], resources: [configmaps], verbs: [get] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: b, namespace: apps }
roleRef: { kind: Role, name: reader }
subjects: [{ kind: ServiceAccount, name: sa, namespace: apps }]
`,
      { name: 'sa', namespace: 'apps' },
    );
    const configMap = {
      verb: 'get' as const,
      group: '',
      resource: 'configmaps',
    };
    expect(allowed(rules, { ...configMap, namespace: 'apps', name: 'c' })).toBe(
      true,
    );
    expect(
      allowed(rules, { ...configMap, namespace: 'other', name: 'c' }),
    ).toBe(false);
  });
});

describe('server-side apply authorization', () => {
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await startTestCluster();
    await cluster.core.createNamespace({
      body: { metadata: { name: 'apps' } },
    });
    cluster.server.addToken('patcher', {
      user: 'patcher',
      rules: [{ verbs: ['patch'], apiGroups: [''], resources: ['configmaps'] }],
    });
  });

  afterEach(async () => {
    await cluster.server.stop();
  });

  /** Server-side apply of ConfigMap apps/settings as `patcher`. */
  const apply = (value: string) =>
    fetch(
      `${cluster.server.url}/api/v1/namespaces/apps/configmaps/settings?fieldManager=test&force=true`,
      {
        method: 'PATCH',
        headers: {
          Authorization: 'Bearer patcher',
          'Content-Type': 'application/apply-patch+yaml',
        },
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'settings', namespace: 'apps' },
          data: { value },
        }),
      },
    );

  it('needs create when the apply creates the object, patch alone when it exists', async () => {
    const denied = await apply('1');
    expect(denied.status).toBe(403);
    expect((await denied.json()).message).toContain(
      'User "patcher" cannot create resource "configmaps"',
    );
    await expect(
      statusOf(
        cluster.core.readNamespacedConfigMap({
          namespace: 'apps',
          name: 'settings',
        }),
      ),
    ).resolves.toMatchObject({ code: 404 });

    await cluster.core.createNamespacedConfigMap({
      namespace: 'apps',
      body: { metadata: { name: 'settings' }, data: { value: '0' } },
    });
    const applied = await apply('2');
    expect(applied.status).toBe(200);
    expect((await applied.json()).data).toEqual({ value: '2' });
  });
});

describe('rules from the RBAC objects stored in the cluster', () => {
  const RBAC = 'rbac.authorization.k8s.io/v1';
  const account = { name: 'deployer', namespace: 'apps' };
  const user = 'system:serviceaccount:apps:deployer';

  async function clusterStore() {
    const store = createClusterStore({
      clusterName: 'test',
      types: await loadResourceTypes(),
      initialNamespaces: ['default', 'apps'],
    });
    store.create({
      apiVersion: RBAC,
      kind: 'RoleBinding',
      metadata: { name: 'deployer', namespace: 'apps' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'edit',
      },
      // A ServiceAccount subject without a namespace is the binding's namespace's.
      subjects: [{ kind: 'ServiceAccount', name: 'deployer' }],
    });
    store.create({
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'everyone-views' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'view',
      },
      subjects: [{ kind: 'Group', name: 'system:serviceaccounts' }],
    });
    return store;
  }

  it('starts with the bootstrap ClusterRoles and evaluates bindings to them with the shared rule matching', async () => {
    const store = await clusterStore();
    expect(
      ['cluster-admin', 'admin', 'edit', 'view'].map(
        name =>
          store.get(
            { apiVersion: RBAC, kind: 'ClusterRole' },
            undefined,
            name,
          ) !== undefined,
      ),
    ).toEqual([true, true, true, true]);

    const rules = rulesFromStore(store, serviceAccountIdentity(account));
    const can = (request: RequestAttributes) => allowed(rules, request);
    const configMaps = { group: '', resource: 'configmaps' };
    expect(can({ verb: 'create', ...configMaps, namespace: 'apps' })).toBe(
      true,
    );
    expect(can({ verb: 'create', ...configMaps, namespace: 'default' })).toBe(
      false,
    );
    // Through its group, `view` everywhere; `edit` grants no RBAC objects.
    expect(can({ verb: 'list', ...configMaps, namespace: 'default' })).toBe(
      true,
    );
    expect(
      can({
        verb: 'create',
        group: 'rbac.authorization.k8s.io',
        resource: 'rolebindings',
        namespace: 'apps',
      }),
    ).toBe(false);
    // Another account of the namespace gets only the group's `view`.
    expect(
      rulesFromStore(
        store,
        serviceAccountIdentity({ name: 'other', namespace: 'apps' }),
      ).some(rule => rule.verbs.includes('create')),
    ).toBe(false);
  });

  it('authorizes an impersonated write by the stored RBAC: apply needs patch, then create', async () => {
    const store = await clusterStore();
    const client = impersonate(store, serviceAccountIdentity(account));
    const configMap = (namespace: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace },
      data: { a: '1' },
    });
    expect(
      client.apply(configMap('apps'), { fieldManager: 'test' }).data,
    ).toEqual({ a: '1' });
    expect(() =>
      client.apply(configMap('default'), { fieldManager: 'test' }),
    ).toThrow(
      `configmaps "settings" is forbidden: User "${user}" cannot patch resource "configmaps" in API group "" in the namespace "default"`,
    );
    expect(() =>
      client.delete(
        { apiVersion: RBAC, kind: 'ClusterRole' },
        undefined,
        'view',
      ),
    ).toThrow(
      `clusterroles.rbac.authorization.k8s.io "view" is forbidden: User "${user}" cannot delete resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`,
    );

    // patch alone: refused with `create` when the object does not exist yet.
    store.create({
      apiVersion: RBAC,
      kind: 'Role',
      metadata: { name: 'patcher', namespace: 'default' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['patch'] }],
    });
    store.create({
      apiVersion: RBAC,
      kind: 'RoleBinding',
      metadata: { name: 'patcher', namespace: 'default' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'patcher',
      },
      subjects: [
        { kind: 'ServiceAccount', name: 'deployer', namespace: 'apps' },
      ],
    });
    expect(() =>
      client.apply(configMap('default'), { fieldManager: 'test' }),
    ).toThrow(
      `cannot create resource "configmaps" in API group "" in the namespace "default"`,
    );
    expect(
      store.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'default', 'settings'),
    ).toBeUndefined();
    store.close();
  });
});
