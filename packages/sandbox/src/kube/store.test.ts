import { StoreErrorWithCauses } from './errors';
import { loadResourceTypes, type ServedResourceType } from './resourceTypes';
import {
  createClusterStore,
  type ClusterStoreOptions,
  type KubeClusterStore,
} from './store';
import { KubeObject, StoreError, WatchEvent } from './types';

const GIT_V1 = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const GIT_V1BETA2 = {
  apiVersion: 'source.toolkit.fluxcd.io/v1beta2',
  kind: 'GitRepository',
};
const SECRET = { apiVersion: 'v1', kind: 'Secret' };
const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap' };
const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace' };

let types: ServedResourceType[];
const stores: KubeClusterStore[] = [];

beforeAll(async () => {
  types = await loadResourceTypes();
});

afterEach(() => {
  stores.splice(0).forEach(s => s.close());
});

function newStore(
  options: Partial<ClusterStoreOptions> = {},
): KubeClusterStore {
  const store = createClusterStore({ clusterName: 'test', types, ...options });
  stores.push(store);
  return store;
}

function gitRepository(
  name: string,
  spec: Record<string, unknown> = {},
  extra: Partial<KubeObject> = {},
): KubeObject {
  return {
    ...GIT_V1,
    metadata: { name, namespace: 'default', ...(extra.metadata ?? {}) },
    spec: { interval: '1m', url: `https://git.example/${name}.git`, ...spec },
  };
}

function configMap(
  name: string,
  metadata: Record<string, unknown> = {},
): KubeObject {
  return {
    ...CONFIG_MAP,
    metadata: { name, namespace: 'default', ...metadata },
    data: { a: '1' },
  };
}

function storeErrorOf(action: () => unknown): StoreError {
  try {
    action();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
}

describe('createClusterStore', () => {
  it('starts with the usual namespaces', () => {
    const store = newStore();
    expect(store.list(NAMESPACE).items.map(n => n.metadata.name)).toEqual([
      'default',
      'kube-node-lease',
      'kube-public',
      'kube-system',
    ]);
    const ns = store.get(NAMESPACE, undefined, 'default')!;
    expect(ns.status).toEqual({ phase: 'Active' });
    expect(ns.metadata.labels).toEqual({
      'kubernetes.io/metadata.name': 'default',
    });
  });

  it('assigns identity and a cluster-wide increasing resourceVersion on create', () => {
    const store = newStore();
    const before = Number(store.currentResourceVersion());
    const repo = store.create(gitRepository('app'));
    const secret = store.create({
      ...SECRET,
      metadata: { name: 's', namespace: 'default' },
      stringData: { token: 't' },
    });
    expect(repo.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(repo.metadata.generation).toBe(1);
    expect(repo.metadata.creationTimestamp).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect(Number(repo.metadata.resourceVersion)).toBe(before + 1);
    expect(Number(secret.metadata.resourceVersion)).toBe(before + 2);
    expect(store.currentResourceVersion()).toBe(String(before + 2));
    // stringData is folded into base64 data, as the API server does.
    expect(secret.data).toEqual({ token: Buffer.from('t').toString('base64') });
    expect(secret.stringData).toBeUndefined();
    expect(secret.type).toBe('Opaque');
  });

  it('rejects duplicates, missing namespaces and invalid objects', () => {
    const store = newStore();
    store.create(gitRepository('app'));
    const duplicate = storeErrorOf(() => store.create(gitRepository('app')));
    expect(duplicate.code).toBe(409);
    expect(duplicate.reason).toBe('AlreadyExists');
    expect(duplicate.message).toBe(
      'gitrepositories.source.toolkit.fluxcd.io "app" already exists',
    );

    const missingNs = storeErrorOf(() =>
      store.create({
        ...configMap('c'),
        metadata: { name: 'c', namespace: 'nope' },
      }),
    );
    expect(missingNs.code).toBe(404);
    expect(missingNs.message).toBe('namespaces "nope" not found');

    const invalid = storeErrorOf(() =>
      store.create({
        ...GIT_V1,
        metadata: { name: 'bad', namespace: 'default' },
        spec: { interval: '1m' },
      }),
    );
    expect(invalid.code).toBe(422);
    expect(invalid.message).toBe(
      'GitRepository.source.toolkit.fluxcd.io "bad" is invalid: spec.url: Required value',
    );
    expect((invalid as StoreErrorWithCauses).causes).toEqual([
      {
        reason: 'FieldValueRequired',
        field: 'spec.url',
        message: 'spec.url: Required value',
      },
    ]);

    const badName = storeErrorOf(() => store.create(configMap('Not_Valid')));
    expect(badName.code).toBe(422);
    expect(badName.message).toContain(
      'metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain',
    );
  });

  it('generates names from generateName', () => {
    const store = newStore();
    const created = store.create({
      ...CONFIG_MAP,
      metadata: { generateName: 'cm-', namespace: 'default' } as never,
    });
    expect(created.metadata.name).toMatch(/^cm-[a-z0-9]{5}$/);
  });

  it('serves v1 and v1beta2 from one storage', () => {
    const store = newStore();
    store.create({
      ...gitRepository('old'),
      apiVersion: GIT_V1BETA2.apiVersion,
    });
    const asV1 = store.get(GIT_V1, 'default', 'old')!;
    expect(asV1.apiVersion).toBe('source.toolkit.fluxcd.io/v1');
    expect(store.list(GIT_V1BETA2).items.map(i => i.apiVersion)).toEqual([
      'source.toolkit.fluxcd.io/v1beta2',
    ]);
    const events: WatchEvent[] = [];
    store.watch(
      GIT_V1BETA2,
      { resourceVersion: store.currentResourceVersion() },
      e => events.push(e),
    );
    store.mergePatch(GIT_V1, 'default', 'old', { spec: { interval: '5m' } });
    expect(events).toHaveLength(1);
    expect(events[0].object.apiVersion).toBe(
      'source.toolkit.fluxcd.io/v1beta2',
    );
  });

  it('lists with label and field selectors, sorted by namespace and name', () => {
    const store = newStore();
    store.create({ ...NAMESPACE, metadata: { name: 'team' } });
    store.create(configMap('b', { labels: { app: 'web', tier: 'front' } }));
    store.create(configMap('a', { labels: { app: 'api' } }));
    store.create(
      configMap('c', {
        namespace: 'team',
        labels: { app: 'web', version: '3' },
      }),
    );
    const names = (
      labelSelector?: string,
      fieldSelector?: string,
      namespace?: string,
    ) =>
      store
        .list(CONFIG_MAP, { labelSelector, fieldSelector, namespace })
        .items.map(i => `${i.metadata.namespace}/${i.metadata.name}`);
    expect(names()).toEqual(['default/a', 'default/b', 'team/c']);
    expect(names('app=web')).toEqual(['default/b', 'team/c']);
    expect(names('app in (api, web),!version')).toEqual([
      'default/a',
      'default/b',
    ]);
    expect(names('app notin (web)')).toEqual(['default/a']);
    expect(names('tier')).toEqual(['default/b']);
    expect(names('app!=web')).toEqual(['default/a']);
    expect(names('version>2')).toEqual(['team/c']);
    expect(names(undefined, 'metadata.name=c')).toEqual(['team/c']);
    expect(names(undefined, 'metadata.namespace!=team,data.a==1')).toEqual([
      'default/a',
      'default/b',
    ]);
    expect(names(undefined, undefined, 'team')).toEqual(['team/c']);
    expect(storeErrorOf(() => names('a b c')).code).toBe(400);
  });

  it('enforces optimistic concurrency on update', () => {
    const store = newStore();
    const created = store.create(gitRepository('app'));
    store.mergePatch(GIT_V1, 'default', 'app', {
      metadata: { labels: { x: 'y' } },
    });
    const stale = storeErrorOf(() =>
      store.update({
        ...created,
        spec: { ...(created.spec as object), interval: '2m' },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.reason).toBe('Conflict');
    expect(stale.message).toBe(
      'Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io "app": the object has been modified; please apply your changes to the latest version and try again',
    );
    // Without a resourceVersion the update is unconditional.
    const { resourceVersion: _rv, ...metadata } = created.metadata;
    const updated = store.update({
      ...created,
      metadata,
      spec: { ...(created.spec as object), interval: '2m' },
    });
    expect((updated.spec as { interval: string }).interval).toBe('2m');
  });

  it('bumps generation on spec changes only and keeps status out of main writes', () => {
    const store = newStore();
    const created = store.create({
      ...gitRepository('app'),
      status: { ignored: true },
    });
    expect(created.status).toBeUndefined();

    const labelled = store.mergePatch(GIT_V1, 'default', 'app', {
      metadata: { labels: { a: 'b' } },
    });
    expect(labelled.metadata.generation).toBe(1);

    const withStatus = store.update(
      { ...labelled, status: { observedGeneration: 1 } },
      { subresource: 'status' },
    );
    expect(withStatus.metadata.generation).toBe(1);
    expect(withStatus.status).toEqual({ observedGeneration: 1 });
    expect(withStatus.metadata.labels).toEqual({ a: 'b' });

    // A status write ignores spec changes; a main write ignores status changes.
    const ignoredSpec = store.update(
      {
        ...withStatus,
        spec: { ...(withStatus.spec as object), interval: '9m' },
        status: { observedGeneration: 2 },
      },
      { subresource: 'status' },
    );
    expect((ignoredSpec.spec as { interval: string }).interval).toBe('1m');
    const specChange = store.mergePatch(GIT_V1, 'default', 'app', {
      spec: { interval: '3m' },
      status: { observedGeneration: 99 },
    });
    expect(specChange.metadata.generation).toBe(2);
    expect(specChange.status).toEqual({ observedGeneration: 2 });

    const statusPatch = store.mergePatch(
      GIT_V1,
      'default',
      'app',
      { status: { observedGeneration: null, ready: true } },
      { subresource: 'status' },
    );
    expect(statusPatch.status).toEqual({ ready: true });
    expect(statusPatch.metadata.generation).toBe(2);
  });

  it('applies RFC 7386 merge patches and skips no-op writes', () => {
    const store = newStore();
    store.create(
      gitRepository('app', { ref: { branch: 'main' }, suspend: true }),
    );
    const patched = store.mergePatch(GIT_V1, 'default', 'app', {
      spec: { suspend: null, ref: { tag: 'v1' } },
    });
    expect(patched.spec).toEqual({
      interval: '1m',
      url: 'https://git.example/app.git',
      ref: { branch: 'main', tag: 'v1' },
    });
    const again = store.mergePatch(GIT_V1, 'default', 'app', {
      spec: { ref: { tag: 'v1' } },
    });
    expect(again.metadata.resourceVersion).toBe(
      patched.metadata.resourceVersion,
    );
    const conflict = storeErrorOf(() =>
      store.mergePatch(GIT_V1, 'default', 'app', {
        metadata: { resourceVersion: '1' },
        spec: { interval: '2m' },
      }),
    );
    expect(conflict.code).toBe(409);
  });

  describe('server-side apply', () => {
    it('creates, tracks managers, conflicts and forces', () => {
      const store = newStore();
      const created = store.apply(
        gitRepository('app', { ref: { branch: 'main' } }),
        { fieldManager: 'agent' },
      );
      expect(created.metadata.managedFields).toEqual([
        expect.objectContaining({
          manager: 'agent',
          operation: 'Apply',
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:spec': {
              'f:interval': {},
              'f:ref': { 'f:branch': {} },
              'f:url': {},
            },
          },
        }),
      ]);

      // Another manager setting the same value shares the field; a different value conflicts.
      store.apply(gitRepository('app', { interval: '1m' }), {
        fieldManager: 'other',
      });
      const conflict = storeErrorOf(() =>
        store.apply(
          {
            ...GIT_V1,
            metadata: { name: 'app', namespace: 'default' },
            spec: { interval: '5m', url: 'https://elsewhere/x.git' },
          },
          { fieldManager: 'other' },
        ),
      );
      expect(conflict.code).toBe(409);
      expect(conflict.reason).toBe('Conflict');
      expect(conflict.message).toBe(
        'Apply failed with 2 conflicts: conflicts with "agent":\n- .spec.interval\n- .spec.url',
      );
      expect((conflict as StoreErrorWithCauses).causes).toContainEqual({
        reason: 'FieldManagerConflict',
        message: 'conflict with "agent"',
        field: '.spec.url',
      });

      const forced = store.apply(
        {
          ...GIT_V1,
          metadata: { name: 'app', namespace: 'default' },
          spec: { interval: '5m' },
        },
        { fieldManager: 'other', force: true },
      );
      expect((forced.spec as { interval: string }).interval).toBe('5m');
      expect(forced.metadata.generation).toBe(2);
      // 'agent' lost interval but still owns url and ref; applying its old config now conflicts the other way.
      const agent = forced.metadata.managedFields!.find(
        f => (f as { manager: string }).manager === 'agent',
      );
      expect((agent as { fieldsV1: unknown }).fieldsV1).toEqual({
        'f:spec': { 'f:ref': { 'f:branch': {} }, 'f:url': {} },
      });
    });

    it('reports Update managers with their apiVersion in conflicts', () => {
      const store = newStore();
      store.create(gitRepository('app'), { fieldManager: 'kubectl-create' });
      const conflict = storeErrorOf(() =>
        store.apply(gitRepository('app', { interval: '7m' }), {
          fieldManager: 'agent',
        }),
      );
      expect(conflict.message).toBe(
        'Apply failed with 1 conflict: conflict with "kubectl-create" using source.toolkit.fluxcd.io/v1: .spec.interval',
      );
    });

    it('removes fields the manager stops applying unless another manager owns them', () => {
      const store = newStore();
      store.apply(
        {
          ...configMap('c', { labels: { a: '1', b: '2' } }),
          data: { x: '1', y: '2' },
        },
        { fieldManager: 'one' },
      );
      store.apply(
        {
          ...CONFIG_MAP,
          metadata: { name: 'c', namespace: 'default', labels: { b: '2' } },
        },
        { fieldManager: 'two' },
      );
      const result = store.apply(
        {
          ...CONFIG_MAP,
          metadata: { name: 'c', namespace: 'default' },
          data: { x: '1' },
        },
        { fieldManager: 'one' },
      );
      expect(result.metadata.labels).toEqual({ b: '2' });
      expect(result.data).toEqual({ x: '1' });
    });

    it('applies the status subresource separately', () => {
      const store = newStore();
      store.apply(gitRepository('app'), { fieldManager: 'user' });
      const withStatus = store.apply(
        {
          ...GIT_V1,
          metadata: { name: 'app', namespace: 'default' },
          status: { observedGeneration: 1 },
        },
        { fieldManager: 'source-controller', subresource: 'status' },
      );
      expect(withStatus.status).toEqual({ observedGeneration: 1 });
      expect(withStatus.metadata.generation).toBe(1);
      expect(withStatus.metadata.managedFields).toContainEqual(
        expect.objectContaining({
          manager: 'source-controller',
          subresource: 'status',
        }),
      );
      const missing = storeErrorOf(() =>
        store.apply(
          {
            ...GIT_V1,
            metadata: { name: 'nope', namespace: 'default' },
            status: {},
          },
          { fieldManager: 'x', subresource: 'status' },
        ),
      );
      expect(missing.code).toBe(404);
    });
  });

  describe('delete', () => {
    it('garbage-collects dependents recursively, keeping those with other live owners', () => {
      const store = newStore();
      const owner = store.create(gitRepository('owner'));
      const other = store.create(gitRepository('other'));
      const ref = (o: KubeObject) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name,
        uid: o.metadata.uid!,
      });
      const child = store.create(
        configMap('child', {
          ownerReferences: [{ ...ref(owner), controller: true }],
        }),
      );
      store.create(configMap('grandchild', { ownerReferences: [ref(child)] }));
      store.create(
        configMap('shared', { ownerReferences: [ref(owner), ref(other)] }),
      );
      store.create(configMap('unrelated'));

      const deleted = store.delete(GIT_V1, 'default', 'owner');
      expect(deleted.metadata.name).toBe('owner');
      expect(store.get(CONFIG_MAP, 'default', 'child')).toBeUndefined();
      expect(store.get(CONFIG_MAP, 'default', 'grandchild')).toBeUndefined();
      expect(store.get(CONFIG_MAP, 'default', 'unrelated')).toBeDefined();
      expect(
        store.get(CONFIG_MAP, 'default', 'shared')!.metadata.ownerReferences,
      ).toEqual([ref(other)]);
    });

    it('orphans dependents on request', () => {
      const store = newStore();
      const owner = store.create(gitRepository('owner'));
      store.create(
        configMap('child', {
          ownerReferences: [
            {
              apiVersion: owner.apiVersion,
              kind: owner.kind,
              name: 'owner',
              uid: owner.metadata.uid!,
            },
          ],
        }),
      );
      store.delete(GIT_V1, 'default', 'owner', { propagationPolicy: 'Orphan' });
      expect(
        store.get(CONFIG_MAP, 'default', 'child')!.metadata.ownerReferences,
      ).toBeUndefined();
    });

    it('keeps objects with finalizers until the last one is removed', () => {
      const store = newStore();
      store.create(
        gitRepository(
          'app',
          {},
          { metadata: { name: 'app', finalizers: ['finalizers.fluxcd.io'] } },
        ),
      );
      const events: WatchEvent[] = [];
      store.watch(
        GIT_V1,
        { resourceVersion: store.currentResourceVersion() },
        e => events.push(e),
      );
      const terminating = store.delete(GIT_V1, 'default', 'app');
      expect(terminating.metadata.deletionTimestamp).toBeDefined();
      expect(terminating.metadata.generation).toBe(2);
      expect(store.get(GIT_V1, 'default', 'app')).toBeDefined();
      const addFinalizer = storeErrorOf(() =>
        store.mergePatch(GIT_V1, 'default', 'app', {
          metadata: { finalizers: ['finalizers.fluxcd.io', 'more'] },
        }),
      );
      expect(addFinalizer.code).toBe(422);
      store.mergePatch(GIT_V1, 'default', 'app', {
        metadata: { finalizers: null },
      });
      expect(store.get(GIT_V1, 'default', 'app')).toBeUndefined();
      expect(events.map(e => e.type)).toEqual(['MODIFIED', 'DELETED']);
    });

    it('deletes the contents of a deleted namespace, which waits for finalizers', () => {
      const store = newStore();
      store.create({ ...NAMESPACE, metadata: { name: 'team' } });
      store.create(configMap('c', { namespace: 'team' }));
      store.create({
        ...gitRepository('held'),
        metadata: { name: 'held', namespace: 'team', finalizers: ['f'] },
      });
      const ns = store.delete(NAMESPACE, undefined, 'team');
      expect(ns.status).toEqual({ phase: 'Terminating' });
      expect(store.get(CONFIG_MAP, 'team', 'c')).toBeUndefined();
      expect(store.get(NAMESPACE, undefined, 'team')).toBeDefined();
      const blocked = storeErrorOf(() =>
        store.create(configMap('new', { namespace: 'team' })),
      );
      expect(blocked.code).toBe(403);
      expect(blocked.message).toBe(
        'configmaps "new" is forbidden: unable to create new content in namespace team because it is being terminated',
      );
      store.mergePatch(GIT_V1, 'team', 'held', {
        metadata: { finalizers: null },
      });
      expect(store.get(NAMESPACE, undefined, 'team')).toBeUndefined();
    });
  });

  describe('watch', () => {
    it('starts with synthetic ADDED events without a resourceVersion, then follows changes', () => {
      const store = newStore();
      store.create(configMap('existing'));
      const events: WatchEvent[] = [];
      const stop = store.watch(CONFIG_MAP, {}, e => events.push(e));
      store.create(configMap('new'));
      store.mergePatch(CONFIG_MAP, 'default', 'new', { data: { b: '2' } });
      store.delete(CONFIG_MAP, 'default', 'new');
      stop();
      store.create(configMap('after-stop'));
      expect(events.map(e => `${e.type} ${e.object.metadata.name}`)).toEqual([
        'ADDED existing',
        'ADDED new',
        'MODIFIED new',
        'DELETED new',
      ]);
      // The DELETED event carries the revision of the deletion.
      expect(Number(events[3].object.metadata.resourceVersion)).toBeGreaterThan(
        Number(events[2].object.metadata.resourceVersion),
      );
    });

    it('replays from a resourceVersion and answers 410 once history is gone', () => {
      const store = newStore({ historyLimit: 3 });
      const from = store.currentResourceVersion();
      store.create(configMap('a'));
      store.create(configMap('b'));
      const replayed: WatchEvent[] = [];
      store.watch(CONFIG_MAP, { resourceVersion: from }, e =>
        replayed.push(e),
      )();
      expect(replayed.map(e => e.object.metadata.name)).toEqual(['a', 'b']);

      store.create(configMap('c'));
      store.create(configMap('d'));
      const gone = storeErrorOf(() =>
        store.watch(CONFIG_MAP, { resourceVersion: from }, () => {}),
      );
      expect(gone.code).toBe(410);
      expect(gone.reason).toBe('Gone');
      expect(gone.message).toMatch(
        new RegExp(`^too old resource version: ${from} \\(\\d+\\)$`),
      );

      store.compactHistory();
      const current = store.currentResourceVersion();
      expect(() =>
        store.watch(CONFIG_MAP, { resourceVersion: current }, () => {})(),
      ).not.toThrow();
    });

    it('reports objects entering and leaving a label selection', () => {
      const store = newStore();
      const events: WatchEvent[] = [];
      store.watch(
        CONFIG_MAP,
        { labelSelector: 'watched=yes', namespace: 'default' },
        e => events.push(e),
      );
      store.create(configMap('c'));
      store.mergePatch(CONFIG_MAP, 'default', 'c', {
        metadata: { labels: { watched: 'yes' } },
      });
      store.mergePatch(CONFIG_MAP, 'default', 'c', { data: { z: '1' } });
      store.mergePatch(CONFIG_MAP, 'default', 'c', {
        metadata: { labels: { watched: 'no' } },
      });
      expect(events.map(e => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    });

    it('keeps event order when a listener writes to the store', () => {
      const store = newStore();
      const seen: string[] = [];
      store.watch(CONFIG_MAP, {}, e => {
        if (e.object.metadata.name === 'first' && e.type === 'ADDED')
          store.create(configMap('second'));
      });
      store.watch(CONFIG_MAP, {}, e =>
        seen.push(`${e.type} ${e.object.metadata.name}`),
      );
      store.create(configMap('first'));
      expect(seen).toEqual(['ADDED first', 'ADDED second']);
    });

    it('sends bookmarks when allowed', async () => {
      const store = newStore({ bookmarkIntervalMs: 20 });
      const bookmark = await new Promise<WatchEvent>(resolve => {
        const stop = store.watch(
          SECRET,
          {
            allowBookmarks: true,
            resourceVersion: store.currentResourceVersion(),
          },
          e => {
            stop();
            resolve(e);
          },
        );
      });
      expect(bookmark).toEqual({
        type: 'BOOKMARK',
        object: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { resourceVersion: store.currentResourceVersion() },
        },
      });
    });
  });

  it('serves only the requested source versions', async () => {
    const fluxV1Only = await loadResourceTypes({ sourceVersions: ['v1'] });
    const store = createClusterStore({ clusterName: 'new', types: fluxV1Only });
    stores.push(store);
    expect(store.findType(GIT_V1)).toBeDefined();
    expect(store.findType(GIT_V1BETA2)).toBeUndefined();
    expect(storeErrorOf(() => store.list(GIT_V1BETA2)).code).toBe(404);
    const noFlux = await loadResourceTypes({ flux: false });
    expect(noFlux.some(t => t.group.includes('fluxcd'))).toBe(false);
  });
});
