import { LoggerService } from '@backstage/backend-plugin-api';
import { stringifyError } from '@backstage/errors';
import { NotificationService } from '@backstage/plugin-notifications-node';
import { SyncOutcome } from './CommitStatusReporter';

/**
 * Tells an entity's owners (Backstage notifications resolve a component's owner) when a
 * sync the backend set off failed; a success is not worth a notification. The link is
 * the entity's GitOps tab, the topic groups them per Kustomization.
 */
export function notifyOwnersOfFailure(
  notifications: Pick<NotificationService, 'send'>,
  logger: LoggerService,
): (outcome: SyncOutcome) => Promise<void> {
  return async outcome => {
    if (outcome.state !== 'failed' || !outcome.entityRef) return;
    const { kustomization, cluster, sha } = outcome;
    try {
      await notifications.send({
        recipients: { type: 'entity', entityRef: outcome.entityRef },
        payload: {
          title: `Sync of ${sha.slice(0, 8)} failed on ${cluster}`,
          description: `Kustomization ${kustomization.namespace}/${kustomization.name}: ${outcome.description}`,
          link: outcome.targetUrl,
          severity: 'high',
          topic: `gitops:${cluster}/${kustomization.namespace}/${kustomization.name}`,
        },
      });
    } catch (error) {
      // Without the notifications backend the failure still shows on the commit and tab.
      logger.warn(
        `Could not notify the owners of ${outcome.entityRef}: ${stringifyError(
          error,
        )}`,
      );
    }
  };
}
