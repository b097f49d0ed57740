import { Watch } from '@kubernetes/client-node';
import {
  startTestCluster,
  statusOf,
  waitFor,
  type TestCluster,
} from './__testUtils__/cluster';

function errorCode(error: unknown): string | undefined {
  let current = error as { code?: unknown; cause?: unknown } | undefined;
  while (current) {
    if (typeof current.code === 'string') return current.code;
    current = current.cause as typeof current;
  }
  return undefined;
}

describe('fault injection', () => {
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await startTestCluster();
  });

  afterEach(async () => {
    await cluster.server.stop();
  });

  it('goes down, refusing connections and resetting open ones, then comes back on the same port', async () => {
    const { server, core } = cluster;
    const port = server.port;
    const done: unknown[] = [];
    const controller = await new Watch(cluster.kc).watch(
      '/api/v1/namespaces',
      { resourceVersion: server.store.currentResourceVersion() },
      () => {},
      error => done.push(error ?? 'ended'),
    );
    await waitFor(() => server.faults.describe().openWatches === 1);

    await server.faults.setDown(true);
    expect(server.faults.describe().down).toBe(true);
    const refused = await core.listNamespace().then(
      () => undefined,
      error => error,
    );
    expect(errorCode(refused)).toBe('ECONNREFUSED');
    await waitFor(() => done.length === 1);
    expect(done[0]).not.toBe('ended');

    await server.faults.setDown(false);
    expect(server.port).toBe(port);
    expect(server.faults.describe().down).toBe(false);
    const list = await core.listNamespace();
    expect(list.items.length).toBeGreaterThan(0);
    controller.abort();
  });

  it('fails the next requests with the chosen code', async () => {
    const { server, core } = cluster;
    server.faults.failNext(2, 503);
    expect(server.faults.describe().failNext).toEqual({
      remaining: 2,
      code: 503,
    });
    expect(await statusOf(core.listNamespace())).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'ServiceUnavailable',
      code: 503,
    });
    expect((await statusOf(core.readNamespace({ name: 'default' }))).code).toBe(
      503,
    );
    expect((await core.readNamespace({ name: 'default' })).metadata?.name).toBe(
      'default',
    );
    server.faults.failNext(1);
    expect((await statusOf(core.listNamespace())).reason).toBe('InternalError');
  });

  it('counts the requests each user made', async () => {
    const { server, core } = cluster;
    const before = server.requestsBy('admin');
    await core.listNamespace();
    await core.listNamespace();
    expect(server.requestsBy('admin')).toBe(before + 2);
    expect(server.requestsBy('someone-else')).toBe(0);
  });

  it('adds latency and ends open watches cleanly on demand', async () => {
    const { server, core } = cluster;
    server.faults.setLatency(20);
    expect(server.faults.describe().latencyMs).toBe(20);
    expect((await core.readNamespace({ name: 'default' })).metadata?.name).toBe(
      'default',
    );
    server.faults.setLatency(0);

    const done: unknown[] = [];
    const controller = await new Watch(cluster.kc).watch(
      '/api/v1/namespaces/default/configmaps',
      {},
      () => {},
      error => done.push(error ?? 'ended'),
    );
    await waitFor(() => server.faults.describe().openWatches === 1);
    server.faults.dropWatches();
    await waitFor(() => done.length === 1);
    expect(done).toEqual(['ended']);
    expect(server.faults.describe().openWatches).toBe(0);
    controller.abort();
  });
});
