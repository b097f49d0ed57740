import {
  Content,
  InfoCard,
  MissingAnnotationEmptyState,
  Progress,
  ResponseErrorPanel,
  StructuredMetadataTable,
  WarningPanel,
} from '@backstage/core-components';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { Box, Grid, Link, Typography } from '@material-ui/core';
import { useCallback, useState } from 'react';
import {
  ANNOTATION_CLUSTERS,
  ANNOTATION_DELIVERY_PATH,
  ANNOTATION_DELIVERY_REF,
  ANNOTATION_DELIVERY_REPOSITORIES,
  ANNOTATION_KUBERNETES_ID,
  isGitOpsAvailable,
  RepositoryStatus,
} from '@backstage-gitops/plugin-gitops-common';
import { useActionPermissions, useEntityStatus } from '../common';
import { HistoryCard } from '../HistoryCard';
import { ReceiversCard } from '../ReceiversCard';
import { TokensCard } from '../Tokens';
import { ClusterCard } from './ClusterCard';

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map(item => item.trim())
    .filter(Boolean);
}

function RepositoryHead(props: { repository: RepositoryStatus }) {
  const { repository } = props;
  if (repository.error) {
    return (
      <Typography variant="body2" color="error">
        {repository.url}: {repository.error}
      </Typography>
    );
  }
  return (
    <Typography variant="body2">
      {repository.url}
      {repository.branch && ` (${repository.branch})`}
      {repository.headCommit && (
        <>
          {' — head '}
          <Link
            href={repository.headCommit.webUrl}
            target="_blank"
            rel="noopener"
          >
            {repository.headCommit.sha.slice(0, 7)}
          </Link>{' '}
          {repository.headCommit.title}
        </>
      )}
    </Typography>
  );
}

function GitOpsStatus() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const status = useEntityStatus(entityRef);
  const permissions = useActionPermissions(entityRef);
  // Bumped when an action ends, so the history shows its outcome at once.
  const [historyVersion, setHistoryVersion] = useState(0);
  const { retry } = status;
  const onChanged = useCallback(() => {
    retry();
    setHistoryVersion(version => version + 1);
  }, [retry]);

  const annotations = entity.metadata.annotations ?? {};
  const clusters = splitList(annotations[ANNOTATION_CLUSTERS]);
  const delivery = {
    'Delivery repositories': splitList(
      annotations[ANNOTATION_DELIVERY_REPOSITORIES],
    ),
    Path: annotations[ANNOTATION_DELIVERY_PATH] ?? '(repository root)',
    Ref: annotations[ANNOTATION_DELIVERY_REF] ?? '(as each Flux source)',
    Clusters: clusters.length ? clusters : '(all clusters)',
    'Kubernetes id': annotations[ANNOTATION_KUBERNETES_ID] ?? '(none)',
  };

  let clusterCards;
  if (!status.value) {
    clusterCards = status.error ? (
      <ResponseErrorPanel error={status.error} />
    ) : (
      <Progress />
    );
  } else if (status.value.clusters.length === 0) {
    clusterCards = (
      <InfoCard title="Clusters">
        <Typography variant="body2" color="textSecondary">
          No cluster runs Flux objects of this entity.
        </Typography>
      </InfoCard>
    );
  } else {
    const repositories = status.value.repositories;
    clusterCards = status.value.clusters.map(cluster => (
      <Box key={cluster.name} mb={3}>
        <ClusterCard
          entityRef={entityRef}
          cluster={cluster}
          repositories={repositories}
          permissions={permissions}
          onChanged={onChanged}
        />
      </Box>
    ));
  }

  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        {status.value && status.error && (
          <Box mb={2}>
            <WarningPanel
              severity="warning"
              title="The GitOps status could not be refreshed"
              message={status.error.message}
            />
          </Box>
        )}
        {(permissions.syncDenied || permissions.suspendDenied) && (
          <Box mb={2}>
            <Typography
              variant="body2"
              color="textSecondary"
              data-testid="gitops-actions-denied"
            >
              Actions are disabled:{' '}
              {permissions.syncDenied ?? permissions.suspendDenied}.
            </Typography>
          </Box>
        )}
        {clusterCards}
      </Grid>
      <Grid item xs={12}>
        <HistoryCard entityRef={entityRef} version={historyVersion} />
      </Grid>
      <Grid item xs={12}>
        <ReceiversCard entityRef={entityRef} version={historyVersion} />
      </Grid>
      <Grid item xs={12}>
        <TokensCard entityRef={entityRef} />
      </Grid>
      <Grid item xs={12}>
        <InfoCard title="Delivery">
          <StructuredMetadataTable metadata={delivery} />
          {status.value?.repositories.map(repository => (
            <RepositoryHead key={repository.url} repository={repository} />
          ))}
        </InfoCard>
      </Grid>
    </Grid>
  );
}

/**
 * The GitOps tab of an entity page: per cluster, each Flux chain with its state,
 * revisions and actions; the action history; the delivery settings.
 *
 * @public
 */
export function EntityGitOpsContent() {
  const { entity } = useEntity();
  if (!isGitOpsAvailable(entity)) {
    return (
      <MissingAnnotationEmptyState
        annotation={[
          ANNOTATION_DELIVERY_REPOSITORIES,
          ANNOTATION_KUBERNETES_ID,
        ]}
      />
    );
  }
  return (
    <Content>
      <GitOpsStatus />
    </Content>
  );
}
