import {
  ApisApi,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  ADMIN_TOKEN,
  kubeConfigFor,
  startTestCluster,
  statusOf,
  type TestCluster,
} from './__testUtils__/cluster';
import { startKubeApiServer } from './server';

const SOURCE = {
  group: 'source.toolkit.fluxcd.io',
  version: 'v1',
  plural: 'gitrepositories',
};
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

function gitRepository(
  name: string,
  spec: Record<string, unknown> = {},
  labels?: Record<string, string>,
) {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) },
    spec: { interval: '1m', url: `https://git.example/${name}.git`, ...spec },
  };
}

async function rawGet(cluster: TestCluster, path: string, token = ADMIN_TOKEN) {
  const response = await fetch(`${cluster.server.url}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

describe('startKubeApiServer', () => {
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await startTestCluster();
  });

  afterEach(async () => {
    await cluster.server.stop();
  });

  describe('authentication and authorization', () => {
    it('answers 401 without a known bearer token', async () => {
      const anonymous = await fetch(`${cluster.server.url}/api/v1/namespaces`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
      const stranger = kubeConfigFor(cluster.server.url, 'nope').makeApiClient(
        CoreV1Api,
      );
      expect((await statusOf(stranger.listNamespace())).code).toBe(401);
    });

    it('enforces RBAC rules with the real forbidden message, changeable at runtime', async () => {
      cluster.server.addToken('reader', {
        user: 'system:serviceaccount:flux-system:reader',
        rules: [
          {
            verbs: ['get', 'list', 'watch'],
            apiGroups: ['source.toolkit.fluxcd.io'],
            resources: ['gitrepositories'],
            namespaces: ['default'],
          },
          {
            verbs: ['patch'],
            apiGroups: ['source.toolkit.fluxcd.io'],
            resources: ['gitrepositories/status'],
          },
        ],
      });
      await cluster.custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app'),
      });
      const reader = kubeConfigFor(cluster.server.url, 'reader');
      const custom = reader.makeApiClient(CustomObjectsApi);
      const core = reader.makeApiClient(CoreV1Api);

      const list = await custom.listNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
      });
      expect(list.items).toHaveLength(1);

      const secret = await statusOf(
        core.readNamespacedSecret({ name: 'token', namespace: 'default' }),
      );
      expect(secret).toMatchObject({
        code: 403,
        reason: 'Forbidden',
        message:
          'secrets "token" is forbidden: User "system:serviceaccount:flux-system:reader" cannot get resource "secrets" in API group "" in the namespace "default"',
        details: { name: 'token', group: '', kind: 'secrets' },
      });
      const patch = await statusOf(
        custom.patchNamespacedCustomObject(
          {
            ...SOURCE,
            namespace: 'default',
            name: 'app',
            body: { spec: { suspend: true } },
          },
          MERGE,
        ),
      );
      expect(patch.message).toBe(
        'gitrepositories.source.toolkit.fluxcd.io "app" is forbidden: User "system:serviceaccount:flux-system:reader" cannot patch resource "gitrepositories" in API group "source.toolkit.fluxcd.io" in the namespace "default"',
      );
      const clusterWide = await statusOf(
        custom.listClusterCustomObject(SOURCE),
      );
      expect(clusterWide.message).toBe(
        'gitrepositories.source.toolkit.fluxcd.io is forbidden: User "system:serviceaccount:flux-system:reader" cannot list resource "gitrepositories" in API group "source.toolkit.fluxcd.io" at the cluster scope',
      );
      const status = await custom.patchNamespacedCustomObjectStatus(
        {
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { status: { observedGeneration: 1 } },
        },
        MERGE,
      );
      expect(status.status).toEqual({ observedGeneration: 1 });

      cluster.server.removeToken('reader');
      expect(
        (
          await statusOf(
            custom.listNamespacedCustomObject({
              ...SOURCE,
              namespace: 'default',
            }),
          )
        ).code,
      ).toBe(401);
    });
  });

  describe('discovery', () => {
    it('lists the Flux groups with both source versions, v1 preferred', async () => {
      const groups = await cluster.kc.makeApiClient(ApisApi).getAPIVersions();
      const source = groups.groups.find(
        g => g.name === 'source.toolkit.fluxcd.io',
      )!;
      expect(source.versions.map(v => v.version)).toEqual(['v1', 'v1beta2']);
      expect(source.preferredVersion).toEqual({
        groupVersion: 'source.toolkit.fluxcd.io/v1',
        version: 'v1',
      });
      expect(groups.groups.map(g => g.name)).toEqual([
        'apps',
        'helm.toolkit.fluxcd.io',
        'kustomize.toolkit.fluxcd.io',
        'notification.toolkit.fluxcd.io',
        'rbac.authorization.k8s.io',
        'source.toolkit.fluxcd.io',
      ]);
      const notification = groups.groups.find(
        g => g.name === 'notification.toolkit.fluxcd.io',
      )!;
      expect(notification.versions.map(v => v.version)).toEqual([
        'v1',
        'v1beta3',
      ]);

      const resources = await rawGet(
        cluster,
        '/apis/kustomize.toolkit.fluxcd.io/v1',
      );
      expect(resources.body.resources).toEqual([
        {
          name: 'kustomizations',
          singularName: 'kustomization',
          namespaced: true,
          kind: 'Kustomization',
          verbs: [
            'create',
            'delete',
            'deletecollection',
            'get',
            'list',
            'patch',
            'update',
            'watch',
          ],
          shortNames: ['ks'],
          // As the kustomize-controller CRD declares them.
          categories: ['all', 'fluxcd', 'fluxcd-appliers'],
        },
        {
          name: 'kustomizations/status',
          singularName: '',
          namespaced: true,
          kind: 'Kustomization',
          verbs: ['get', 'patch', 'update'],
        },
      ]);

      const core = await cluster.core.getAPIResources();
      expect(core.resources.map(r => r.name)).toEqual(
        expect.arrayContaining([
          'namespaces',
          'namespaces/status',
          'secrets',
          'services',
          'services/proxy',
          'events',
        ]),
      );
      const version = await fetch(`${cluster.server.url}/version`).then(r =>
        r.json(),
      );
      expect(version).toMatchObject({
        major: '1',
        gitVersion: expect.stringMatching(/^v1\./),
      });
      expect(
        (await rawGet(cluster, '/apis/source.toolkit.fluxcd.io/v1beta1'))
          .status,
      ).toBe(404);
    });

    it('serves only v1 sources on a Flux 2.8+ cluster', async () => {
      const modern = await startKubeApiServer({
        resourceTypes: { sourceVersions: ['v1'] },
        tokens: {
          t: {
            user: 'admin',
            rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
          },
        },
      });
      try {
        const groups = await kubeConfigFor(modern.url, 't')
          .makeApiClient(ApisApi)
          .getAPIVersions();
        const source = groups.groups.find(
          g => g.name === 'source.toolkit.fluxcd.io',
        )!;
        expect(source.versions.map(v => v.version)).toEqual(['v1']);
        const custom = kubeConfigFor(modern.url, 't').makeApiClient(
          CustomObjectsApi,
        );
        const old = await statusOf(
          custom.listNamespacedCustomObject({
            ...SOURCE,
            version: 'v1beta2',
            namespace: 'default',
          }),
        );
        expect(old.code).toBe(404);
      } finally {
        await modern.stop();
      }
    });

    it('works with the generic KubernetesObjectApi, which discovers resources', async () => {
      const objects = KubernetesObjectApi.makeApiClient(cluster.kc);
      await objects.create(gitRepository('generic'));
      const list = await objects.list(
        'source.toolkit.fluxcd.io/v1beta2',
        'GitRepository',
        'default',
      );
      expect(list.items.map(i => [i.apiVersion, i.metadata?.name])).toEqual([
        ['source.toolkit.fluxcd.io/v1beta2', 'generic'],
      ]);
    });
  });

  describe('objects', () => {
    it('creates, reads and lists with selectors and pagination', async () => {
      const { custom, core } = cluster;
      const created = await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app', {}, { team: 'a' }),
      });
      expect(created.metadata).toMatchObject({
        name: 'app',
        generation: 1,
        uid: expect.any(String),
      });
      await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('lib', {}, { team: 'b' }),
      });
      await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('tool', {}, { team: 'a' }),
      });

      const got = await custom.getNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
      });
      expect(got.spec.url).toBe('https://git.example/app.git');
      const teamA = await custom.listNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        labelSelector: 'team=a',
      });
      expect(
        teamA.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ).toEqual(['app', 'tool']);
      expect(teamA.kind).toBe('GitRepositoryList');
      expect(teamA.items[0].kind).toBe('GitRepository');

      const page1 = await custom.listClusterCustomObject({
        ...SOURCE,
        limit: 2,
      });
      expect(page1.items).toHaveLength(2);
      expect(page1.metadata.remainingItemCount).toBe(1);
      const page2 = await custom.listClusterCustomObject({
        ...SOURCE,
        limit: 2,
        _continue: page1.metadata.continue,
      });
      expect(
        page2.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ).toEqual(['tool']);
      expect(page2.metadata.continue).toBeUndefined();

      await core.createNamespacedSecret({
        namespace: 'default',
        body: { metadata: { name: 's1' }, stringData: { token: 'x' } },
      });
      await core.createNamespacedSecret({
        namespace: 'default',
        body: { metadata: { name: 's2' } },
      });
      const secrets = await core.listNamespacedSecret({
        namespace: 'default',
        fieldSelector: 'metadata.name=s1',
      });
      expect(secrets.items.map(s => s.metadata?.name)).toEqual(['s1']);
      expect(secrets.items[0].data).toEqual({
        token: Buffer.from('x').toString('base64'),
      });
      // Built-in lists carry no apiVersion/kind on their items, like the real server.
      const raw = await rawGet(cluster, '/api/v1/namespaces/default/secrets');
      expect(raw.body.items[0].kind).toBeUndefined();

      const missing = await statusOf(
        custom.getNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          name: 'nope',
        }),
      );
      expect(missing).toMatchObject({
        code: 404,
        reason: 'NotFound',
        message: 'gitrepositories.source.toolkit.fluxcd.io "nope" not found',
        details: {
          name: 'nope',
          group: 'source.toolkit.fluxcd.io',
          kind: 'gitrepositories',
        },
      });
      const noNamespace = await statusOf(
        custom.createNamespacedCustomObject({
          ...SOURCE,
          namespace: 'ghost',
          body: { ...gitRepository('x'), metadata: { name: 'x' } },
        }),
      );
      expect(noNamespace).toMatchObject({
        code: 404,
        message: 'namespaces "ghost" not found',
      });
    });

    it('rejects bad bodies with 400 and duplicates with 409', async () => {
      const { custom, core } = cluster;
      await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app'),
      });
      const duplicate = await statusOf(
        custom.createNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          body: gitRepository('app'),
        }),
      );
      expect(duplicate).toMatchObject({ code: 409, reason: 'AlreadyExists' });

      const wrongName = await statusOf(
        custom.replaceNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          name: 'other',
          body: gitRepository('app'),
        }),
      );
      expect(wrongName).toMatchObject({
        code: 400,
        reason: 'BadRequest',
        message:
          'the name of the object (app) does not match the name on the URL (other)',
      });
      const noKind = await statusOf(
        custom.createNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          body: { metadata: { name: 'x' }, spec: {} },
        }),
      );
      expect(noKind.code).toBe(400);
      const response = await fetch(
        `${cluster.server.url}/api/v1/namespaces/default/configmaps`,
        {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${ADMIN_TOKEN}`,
            'Content-Type': 'application/json',
          },
          body: '{not json',
        },
      );
      expect(response.status).toBe(400);
      const huge = await statusOf(
        core.createNamespacedConfigMap({
          namespace: 'default',
          body: {
            metadata: { name: 'big' },
            data: { x: 'a'.repeat(3 * 1024 * 1024) },
          },
        }),
      );
      expect(huge).toMatchObject({
        code: 413,
        message: 'Request entity too large: limit is 3145728',
      });
    });

    it('answers 422 for an invalid GitRepository, naming the field', async () => {
      const invalid = await statusOf(
        cluster.custom.createNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          body: {
            ...gitRepository('bad'),
            spec: { interval: '1m', url: 'ftp://nope' },
          },
        }),
      );
      expect(invalid).toMatchObject({
        code: 422,
        reason: 'Invalid',
        message:
          'GitRepository.source.toolkit.fluxcd.io "bad" is invalid: spec.url: Invalid value: "ftp://nope": spec.url in body should match \'^(http|https|ssh)://.*$\'',
        details: {
          name: 'bad',
          group: 'source.toolkit.fluxcd.io',
          kind: 'GitRepository',
          causes: [expect.objectContaining({ field: 'spec.url' })],
        },
      });
    });

    it('replaces with optimistic concurrency', async () => {
      const { custom } = cluster;
      const created = await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app'),
      });
      const updated = await custom.replaceNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
        body: { ...created, spec: { ...created.spec, interval: '2m' } },
      });
      expect(updated.metadata.generation).toBe(2);
      const stale = await statusOf(
        custom.replaceNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { ...created, spec: { ...created.spec, interval: '3m' } },
        }),
      );
      expect(stale).toMatchObject({
        code: 409,
        reason: 'Conflict',
        message:
          'Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io "app": the object has been modified; please apply your changes to the latest version and try again',
      });
      // Custom resources refuse unconditional updates.
      const { resourceVersion: _rv, ...withoutVersion } = updated.metadata;
      const unconditional = await statusOf(
        custom.replaceNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { ...updated, metadata: withoutVersion },
        }),
      );
      expect(unconditional).toMatchObject({
        code: 422,
        message:
          'GitRepository.source.toolkit.fluxcd.io "app" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      });
      const acrossNamespaces = await fetch(
        `${cluster.server.url}/apis/source.toolkit.fluxcd.io/v1/gitrepositories`,
        {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${ADMIN_TOKEN}`,
            'Content-Type': 'application/json',
          },
          body: JSON.stringify(gitRepository('x')),
        },
      );
      expect(acrossNamespaces.status).toBe(405);
    });

    it('merge-patches with generation semantics and supports JSON patch', async () => {
      const { custom } = cluster;
      await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app'),
      });
      const annotated = await custom.patchNamespacedCustomObject(
        {
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: {
            metadata: {
              annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' },
            },
          },
        },
        MERGE,
      );
      expect(annotated.metadata.generation).toBe(1);
      expect(annotated.metadata.annotations).toEqual({
        'reconcile.fluxcd.io/requestedAt': 'now',
      });
      const suspended = await custom.patchNamespacedCustomObject(
        {
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { spec: { suspend: true } },
        },
        MERGE,
      );
      expect(suspended.metadata.generation).toBe(2);
      expect(Number(suspended.metadata.resourceVersion)).toBeGreaterThan(
        Number(annotated.metadata.resourceVersion),
      );

      // The generated client sends JSON patch by default.
      const jsonPatched = await custom.patchNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
        body: [
          { op: 'test', path: '/spec/suspend', value: true },
          { op: 'replace', path: '/spec/interval', value: '10m' },
          { op: 'remove', path: '/spec/suspend' },
        ],
      });
      expect(jsonPatched.spec).toEqual({
        interval: '10m',
        url: 'https://git.example/app.git',
      });
      const failedTest = await statusOf(
        custom.patchNamespacedCustomObject({
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: [{ op: 'test', path: '/spec/interval', value: 'x' }],
        }),
      );
      expect(failedTest.code).toBe(422);
    });

    it('strategic-merge-patches built-in kinds only', async () => {
      const apps = cluster.kc.makeApiClient(AppsV1Api);
      await apps.createNamespacedDeployment({
        namespace: 'default',
        body: {
          metadata: { name: 'web' },
          spec: {
            selector: { matchLabels: { app: 'web' } },
            template: {
              metadata: { labels: { app: 'web' } },
              spec: {
                containers: [
                  { name: 'web', image: 'nginx:1' },
                  { name: 'sidecar', image: 'envoy:1' },
                ],
              },
            },
          },
        },
      });
      const patched = await apps.patchNamespacedDeployment(
        {
          namespace: 'default',
          name: 'web',
          body: {
            spec: {
              template: {
                spec: { containers: [{ name: 'web', image: 'nginx:2' }] },
              },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      expect(
        patched.spec?.template.spec?.containers.map(
          c => `${c.name}=${c.image}`,
        ),
      ).toEqual(['web=nginx:2', 'sidecar=envoy:1']);
      expect(patched.metadata?.generation).toBe(2);

      const crd = await statusOf(
        cluster.custom.patchNamespacedCustomObject(
          {
            ...SOURCE,
            namespace: 'default',
            name: 'whatever',
            body: { spec: {} },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
      );
      expect(crd).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
      const other = await fetch(
        `${cluster.server.url}/api/v1/namespaces/default`,
        {
          method: 'PATCH',
          headers: {
            Authorization: `Bearer ${ADMIN_TOKEN}`,
            'Content-Type': 'text/plain',
          },
          body: 'x',
        },
      );
      expect(other.status).toBe(415);
    });

    it('server-side applies with field managers, conflicts and force', async () => {
      const { custom } = cluster;
      const apply = (manager: string, body: object, force?: boolean) =>
        custom.patchNamespacedCustomObject(
          {
            ...SOURCE,
            namespace: 'default',
            name: 'app',
            body,
            fieldManager: manager,
            force,
          },
          APPLY,
        );
      const created = await apply(
        'gitlab-agent',
        gitRepository('app', { ref: { branch: 'main' } }),
      );
      expect(created.metadata.managedFields[0]).toMatchObject({
        manager: 'gitlab-agent',
        operation: 'Apply',
      });

      const conflict = await statusOf(
        apply('kubectl', gitRepository('app', { ref: { branch: 'dev' } })),
      );
      expect(conflict).toMatchObject({
        code: 409,
        reason: 'Conflict',
        message:
          'Apply failed with 1 conflict: conflict with "gitlab-agent": .spec.ref.branch',
        details: {
          causes: [
            {
              reason: 'FieldManagerConflict',
              message: 'conflict with "gitlab-agent"',
              field: '.spec.ref.branch',
            },
          ],
        },
      });
      const forced = await apply(
        'kubectl',
        gitRepository('app', { ref: { branch: 'dev' } }),
        true,
      );
      expect(forced.spec.ref).toEqual({ branch: 'dev' });
      expect(forced.metadata.generation).toBe(2);

      const noManager = await statusOf(
        custom.patchNamespacedCustomObject(
          {
            ...SOURCE,
            namespace: 'default',
            name: 'app',
            body: gitRepository('app'),
          },
          APPLY,
        ),
      );
      expect(noManager.code).toBe(400);
    });

    it('keeps status behind its subresource', async () => {
      const { custom } = cluster;
      await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: { ...gitRepository('app'), status: { ignored: true } },
      });
      const viaMain = await custom.patchNamespacedCustomObject(
        {
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { status: { observedGeneration: 5 } },
        },
        MERGE,
      );
      expect(viaMain.status).toBeUndefined();
      const ready = {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Succeeded',
            message: 'ok',
            lastTransitionTime: '2025-01-01T00:00:00Z',
          },
        ],
        observedGeneration: 1,
      };
      const viaStatus = await custom.patchNamespacedCustomObjectStatus(
        {
          ...SOURCE,
          namespace: 'default',
          name: 'app',
          body: { status: ready, spec: { suspend: true } },
        },
        MERGE,
      );
      expect(viaStatus.status).toEqual(ready);
      expect(viaStatus.spec.suspend).toBeUndefined();
      expect(viaStatus.metadata.generation).toBe(1);
      const read = await custom.getNamespacedCustomObjectStatus({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
      });
      expect(read.status).toEqual(ready);
      const replaced = await custom.replaceNamespacedCustomObjectStatus({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
        body: { ...read, status: { observedGeneration: 1 } },
      });
      expect(replaced.status).toEqual({ observedGeneration: 1 });
      const secretStatus = await rawGet(
        cluster,
        '/api/v1/namespaces/default/secrets/x/status',
      );
      expect(secretStatus.status).toBe(404);
    });

    it('deletes with garbage collection of owned objects', async () => {
      const { custom, core } = cluster;
      const owner = await custom.createNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        body: gitRepository('app'),
      });
      const ownerReferences = [
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name: 'app',
          uid: owner.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ];
      await core.createNamespacedSecret({
        namespace: 'default',
        body: { metadata: { name: 'gitlab-receiver-app', ownerReferences } },
      });
      await custom.createNamespacedCustomObject({
        group: 'notification.toolkit.fluxcd.io',
        version: 'v1',
        plural: 'receivers',
        namespace: 'default',
        body: {
          apiVersion: 'notification.toolkit.fluxcd.io/v1',
          kind: 'Receiver',
          metadata: { name: 'gitlab-app', ownerReferences },
          spec: {
            type: 'generic',
            resources: [{ kind: 'GitRepository', name: 'app' }],
            secretRef: { name: 'gitlab-receiver-app' },
          },
        },
      });
      const deleted = await custom.deleteNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
        name: 'app',
      });
      expect(deleted.metadata.name).toBe('app');
      expect(
        (
          await statusOf(
            core.readNamespacedSecret({
              namespace: 'default',
              name: 'gitlab-receiver-app',
            }),
          )
        ).code,
      ).toBe(404);
      const receivers = await custom.listNamespacedCustomObject({
        group: 'notification.toolkit.fluxcd.io',
        version: 'v1',
        plural: 'receivers',
        namespace: 'default',
      });
      expect(receivers.items).toEqual([]);

      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'c' } },
      });
      const status = await core.deleteNamespacedConfigMap({
        namespace: 'default',
        name: 'c',
      });
      expect(status).toMatchObject({
        status: 'Success',
        details: { name: 'c', kind: 'configmaps' },
      });
    });

    it('deletes a namespace with its contents', async () => {
      const { core } = cluster;
      await core.createNamespace({ body: { metadata: { name: 'team' } } });
      await core.createNamespacedConfigMap({
        namespace: 'team',
        body: { metadata: { name: 'c' } },
      });
      const ns = await core.deleteNamespace({ name: 'team' });
      expect(ns).toMatchObject({ status: { phase: 'Terminating' } });
      expect((await statusOf(core.readNamespace({ name: 'team' }))).code).toBe(
        404,
      );
      expect(
        (
          await statusOf(
            core.readNamespacedConfigMap({ namespace: 'team', name: 'c' }),
          )
        ).code,
      ).toBe(404);
    });
  });
});
