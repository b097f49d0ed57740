import { mockServices } from '@backstage/backend-test-utils';
import { SyncOutcome } from './CommitStatusReporter';
import { notifyOwnersOfFailure } from './ownerNotifications';

const failed: SyncOutcome = {
  cluster: 'dev',
  kustomization: {
    kind: 'Kustomization',
    namespace: 'flux-system',
    name: 'podinfo',
  },
  sha: '0123456789abcdef0123456789abcdef01234567',
  state: 'failed',
  description: 'Failed on dev: kustomize build failed',
  entityRef: 'component:default/podinfo',
  targetUrl: 'http://localhost:3000/catalog/default/component/podinfo/gitops',
  durationMs: 1200,
};

describe('notifyOwnersOfFailure', () => {
  it('sends the entity a high-severity notification linking to its GitOps tab', async () => {
    const send = jest.fn().mockResolvedValue(undefined);
    await notifyOwnersOfFailure({ send }, mockServices.logger.mock())(failed);
    expect(send).toHaveBeenCalledWith({
      recipients: { type: 'entity', entityRef: 'component:default/podinfo' },
      payload: {
        title: 'Sync of 01234567 failed on dev',
        description:
          'Kustomization flux-system/podinfo: Failed on dev: kustomize build failed',
        link: failed.targetUrl,
        severity: 'high',
        topic: 'gitops:dev/flux-system/podinfo',
      },
    });
  });

  it('stays quiet on success and without an entity, and survives a failing send', async () => {
    const send = jest.fn().mockRejectedValue(new Error('404 Not Found'));
    const logger = mockServices.logger.mock();
    const notify = notifyOwnersOfFailure({ send }, logger);
    await notify({ ...failed, state: 'success' });
    await notify({ ...failed, entityRef: undefined });
    expect(send).not.toHaveBeenCalled();
    await notify(failed);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining(
        'Could not notify the owners of component:default/podinfo',
      ),
    );
  });
});
