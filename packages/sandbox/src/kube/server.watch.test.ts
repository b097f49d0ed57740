import { makeInformer, Watch } from '@kubernetes/client-node';
import {
  startTestCluster,
  waitFor,
  type TestCluster,
} from './__testUtils__/cluster';

const SOURCE = {
  group: 'source.toolkit.fluxcd.io',
  version: 'v1',
  plural: 'gitrepositories',
};
const GIT_V1 = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
};
const PATH =
  '/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories';

function gitRepository(name: string) {
  return {
    ...GIT_V1,
    metadata: { name, namespace: 'default' },
    spec: { interval: '1m', url: `https://git.example/${name}.git` },
  };
}

interface Received {
  type: string;
  object: {
    apiVersion?: string;
    metadata?: { name?: string; resourceVersion?: string };
    code?: number;
    reason?: string;
  };
}

describe('watch over HTTP', () => {
  let cluster: TestCluster;
  const cleanups: Array<() => void | Promise<void>> = [];

  beforeEach(async () => {
    cluster = await startTestCluster({ bookmarkIntervalMs: 50 });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await cluster.server.stop();
  });

  async function startWatch(
    path: string,
    query: Record<string, string | boolean | number>,
  ) {
    const events: Received[] = [];
    const done: Array<unknown> = [];
    const controller = await new Watch(cluster.kc).watch(
      path,
      query,
      (type, object) => events.push({ type, object }),
      error => done.push(error ?? 'ended'),
    );
    cleanups.push(() => controller.abort());
    return { events, done };
  }

  it('streams ADDED, MODIFIED and DELETED, converted to the watched version', async () => {
    const { custom, server } = cluster;
    const from = server.store.currentResourceVersion();
    const { events } = await startWatch(
      '/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/default/gitrepositories',
      { resourceVersion: from },
    );
    await custom.createNamespacedCustomObject({
      ...SOURCE,
      namespace: 'default',
      body: gitRepository('app'),
    });
    server.store.mergePatch(GIT_V1, 'default', 'app', {
      spec: { suspend: true },
    });
    await custom.deleteNamespacedCustomObject({
      ...SOURCE,
      namespace: 'default',
      name: 'app',
    });
    await waitFor(() => events.length === 3);
    expect(events.map(e => `${e.type} ${e.object.metadata?.name}`)).toEqual([
      'ADDED app',
      'MODIFIED app',
      'DELETED app',
    ]);
    expect(
      events.every(
        e => e.object.apiVersion === 'source.toolkit.fluxcd.io/v1beta2',
      ),
    ).toBe(true);
  });

  it('starts with the current objects when no resourceVersion is given, and filters by label', async () => {
    const { server } = cluster;
    server.store.create({
      ...gitRepository('labelled'),
      metadata: {
        name: 'labelled',
        namespace: 'default',
        labels: { team: 'a' },
      },
    });
    server.store.create(gitRepository('other'));
    const { events } = await startWatch(PATH, { labelSelector: 'team=a' });
    await waitFor(() => events.length === 1);
    expect(events[0]).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'labelled' } },
    });
  });

  it('answers a too old resourceVersion with an ERROR event carrying 410 Expired, then ends', async () => {
    const { server } = cluster;
    const old = server.store.currentResourceVersion();
    server.store.create(gitRepository('a'));
    server.store.compactHistory();
    const { events, done } = await startWatch(PATH, { resourceVersion: old });
    await waitFor(() => done.length === 1);
    expect(events).toEqual([
      {
        type: 'ERROR',
        object: expect.objectContaining({
          kind: 'Status',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
          message: expect.stringMatching(
            new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`),
          ),
        }),
      },
    ]);
    expect(done).toEqual(['ended']);
  });

  it('sends bookmarks when allowed and ends at timeoutSeconds', async () => {
    const { events, done } = await startWatch(PATH, {
      resourceVersion: cluster.server.store.currentResourceVersion(),
      allowWatchBookmarks: true,
      timeoutSeconds: 1,
    });
    await waitFor(() => events.some(e => e.type === 'BOOKMARK'));
    expect(events[0].object.metadata?.resourceVersion).toBe(
      cluster.server.store.currentResourceVersion(),
    );
    await waitFor(() => done.length === 1, 3000);
    expect(cluster.server.faults.describe().openWatches).toBe(0);
  });

  it('keeps an informer in sync across dropped watches and a 410 relist', async () => {
    const { custom, server } = cluster;
    let lists = 0;
    let connects = 0;
    const errors: unknown[] = [];
    const informer = makeInformer(cluster.kc, PATH, () => {
      lists++;
      return custom.listNamespacedCustomObject({
        ...SOURCE,
        namespace: 'default',
      });
    });
    const seen: string[] = [];
    informer.on('add', o => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', o => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', o => seen.push(`delete ${o.metadata?.name}`));
    informer.on('connect', () => connects++);
    informer.on('error', error => errors.push(error));
    await informer.start();
    cleanups.push(() => informer.stop());

    server.store.create(gitRepository('a'));
    await waitFor(() => seen.includes('add a'));
    expect(lists).toBe(1);

    // A dropped watch resumes from the last resourceVersion, without a relist.
    server.faults.dropWatches();
    await waitFor(
      () => connects === 2 && server.faults.describe().openWatches === 1,
    );
    server.store.mergePatch(GIT_V1, 'default', 'a', {
      spec: { suspend: true },
    });
    await waitFor(() => seen.includes('update a'));
    expect(lists).toBe(1);

    // Changes missed while disconnected, with the history compacted: 410, relist, catch up.
    server.faults.dropWatches();
    server.store.delete(GIT_V1, 'default', 'a');
    server.store.create(gitRepository('b'));
    server.store.compactHistory();
    await waitFor(() => seen.includes('delete a') && seen.includes('add b'));
    expect(lists).toBe(2);
    expect(informer.list().map(o => o.metadata?.name)).toEqual(['b']);
    expect(errors).toEqual([]);
  });
});
