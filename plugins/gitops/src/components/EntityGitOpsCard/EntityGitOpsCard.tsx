import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { Box, Typography } from '@material-ui/core';
import SyncIcon from '@material-ui/icons/Sync';
import {
  ActionButton,
  isConsumer,
  objectsOf,
  OperationProgress,
  StateChip,
  stateOf,
  useActionPermissions,
  useEntityStatus,
  useGitOpsActions,
  worstState,
} from '../common';

export const ALL_SUSPENDED_REASON =
  'Every Flux object of this entity is suspended: resume one before syncing';

/**
 * The entity overview card: one line per cluster with the worst state of its Flux
 * objects, and a Sync now button that reconciles all of them with their sources.
 *
 * @public
 */
export function EntityGitOpsCard() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const status = useEntityStatus(entityRef);
  const permissions = useActionPermissions(entityRef);
  const actions = useGitOpsActions(entityRef, status.retry);

  const consumers = (status.value?.clusters ?? []).flatMap(cluster =>
    objectsOf(cluster).filter(isConsumer),
  );
  const syncDisabledReason =
    permissions.syncDenied ??
    (consumers.length > 0 && consumers.every(item => item.suspended)
      ? ALL_SUSPENDED_REASON
      : undefined);

  let body;
  if (!status.value) {
    body = status.error ? (
      <ResponseErrorPanel error={status.error} />
    ) : (
      <Progress />
    );
  } else if (status.value.clusters.length === 0) {
    body = (
      <Typography variant="body2" color="textSecondary">
        No cluster runs Flux objects of this entity.
      </Typography>
    );
  } else {
    body = status.value.clusters.map(cluster => {
      const objects = objectsOf(cluster);
      const worst = worstState(objects.map(stateOf));
      return (
        <Box
          key={cluster.name}
          display="flex"
          alignItems="center"
          style={{ gap: 16 }}
          data-testid={`gitops-card-cluster-${cluster.name}`}
        >
          <Typography variant="body2">
            <strong>{cluster.name}</strong>
          </Typography>
          {cluster.stale && <StateChip state="Stale" />}
          {worst ? (
            <StateChip state={worst} />
          ) : (
            <Typography variant="body2" color="textSecondary">
              no Flux objects
            </Typography>
          )}
          <Typography variant="body2" color="textSecondary">
            {objects.length} object{objects.length === 1 ? '' : 's'}
          </Typography>
        </Box>
      );
    });
  }

  return (
    <InfoCard
      title="GitOps"
      action={
        <Box mt={2} mr={1}>
          <ActionButton
            label="Sync now"
            icon={<SyncIcon />}
            color="primary"
            testId="gitops-card-sync"
            disabledReason={syncDisabledReason}
            busy={actions.busy || permissions.loading || !status.value}
            onClick={() =>
              actions.run({ action: 'reconcile', withSource: true })
            }
          />
        </Box>
      }
    >
      {body}
      {actions.error && (
        <Typography variant="body2" color="error">
          {actions.error.message}
        </Typography>
      )}
      <OperationProgress operations={actions.operations} />
    </InfoCard>
  );
}
