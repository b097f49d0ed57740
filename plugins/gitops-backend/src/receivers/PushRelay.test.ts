import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { DatabasePushDeliveryStore } from '../database/DatabasePushDeliveryStore';
import { PushRelay } from './PushRelay';

jest.setTimeout(30_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

const receiver = (
  cluster: string,
  kind: ManagedReceiver['source']['kind'],
  repository: string,
): ManagedReceiver => ({
  cluster,
  namespace: 'flux-system',
  name: `gitops-${kind === 'GitRepository' ? 'git' : 'oci'}-delivery`,
  source: { kind, name: 'delivery' },
  repository,
  createdAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:00:00.000Z',
});

const GIT = 'git:gitlab.example.com/team/delivery';

async function setup() {
  const all = [
    receiver('dev', 'GitRepository', GIT),
    receiver('prod', 'GitRepository', GIT),
    receiver('dev', 'OCIRepository', 'oci:gitlab.example.com/team/delivery'),
    receiver('dev', 'GitRepository', 'git:gitlab.example.com/team/other'),
  ];
  const store = {
    list: jest.fn(async (filter?: { repository?: string }) =>
      all.filter(r => r.repository === filter?.repository),
    ),
  };
  const trigger = {
    trigger: jest.fn(async () => ({ result: 'succeeded' as const })),
  };
  const logger = mockServices.logger.mock();
  const knex = await databases.init('SQLITE_3');
  const deliveries = await DatabasePushDeliveryStore.create({
    database: mockServices.database.mock({ getClient: async () => knex }),
  });
  return {
    relay: new PushRelay({ store, deliveries, trigger, logger }),
    deliveries,
    trigger,
    logger,
  };
}

const gitlabPush = {
  object_kind: 'push',
  ref: 'refs/heads/main',
  project: {
    git_http_url: 'https://gitlab.example.com/team/delivery.git',
    git_ssh_url: 'git@gitlab.example.com:team/delivery.git',
    web_url: 'https://gitlab.example.com/team/delivery',
  },
};

describe('PushRelay', () => {
  it('calls the Git receivers of the pushed repository on every cluster, once per delivery', async () => {
    const { relay, trigger } = await setup();
    const event = {
      topic: 'gitlab.push',
      eventPayload: gitlabPush,
      metadata: { 'x-gitlab-event-uuid': 'delivery-1' },
    };
    const outcomes = await relay.handle(event);
    expect(outcomes.map(o => [o.receiver.cluster, o.result])).toEqual([
      ['dev', 'succeeded'],
      ['prod', 'succeeded'],
    ]);
    expect(trigger.trigger).toHaveBeenCalledTimes(2);

    // GitLab redelivers: the same id does nothing; a new one triggers again.
    expect(await relay.handle(event)).toEqual([]);
    await relay.handle({
      ...event,
      metadata: { 'x-gitlab-event-uuid': 'delivery-2' },
    });
    expect(trigger.trigger).toHaveBeenCalledTimes(4);
  });

  it('reads GitHub pushes', async () => {
    const { relay, trigger } = await setup();
    await relay.handle({
      topic: 'github.push',
      eventPayload: {
        repository: {
          clone_url: 'https://gitlab.example.com/team/delivery.git',
        },
      },
      metadata: { 'x-github-delivery': 'gh-1' },
    });
    expect(trigger.trigger).toHaveBeenCalledTimes(2);
  });

  it('ignores, with a warning, a push that names no repository', async () => {
    const { relay, trigger, logger } = await setup();
    expect(
      await relay.handle({ topic: 'gitlab.push', eventPayload: { ref: 'x' } }),
    ).toEqual([]);
    expect(trigger.trigger).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/gitlab\.push event without a repository URL/),
    );
  });

  it('relays a delivery its instance accepted but died before relaying, once', async () => {
    const { deliveries, trigger, logger } = await setup();
    const store = {
      list: async (filter?: { repository?: string }) =>
        filter?.repository === GIT
          ? [receiver('dev', 'GitRepository', GIT)]
          : [],
    };
    const replica = (instanceId: string, leaseMs: number) =>
      new PushRelay({
        store,
        deliveries,
        trigger,
        logger,
        instanceId,
        leaseMs,
      });
    const dying = replica('a', 1);
    const accepted = await dying.accept({
      topic: 'gitlab.push',
      eventPayload: gitlabPush,
      metadata: { 'x-gitlab-event-uuid': 'delivery-3' },
    });
    expect(accepted).toBeDefined();
    // It dies here: the Git host was answered, the receivers were not called.
    await new Promise(resolve => setTimeout(resolve, 5));

    const survivor = replica('b', 60_000);
    await survivor.adoptAbandoned();
    expect(trigger.trigger).toHaveBeenCalledTimes(1);
    await survivor.adoptAbandoned();
    await replica('c', 60_000).adoptAbandoned();
    expect(trigger.trigger).toHaveBeenCalledTimes(1);
  });
});
