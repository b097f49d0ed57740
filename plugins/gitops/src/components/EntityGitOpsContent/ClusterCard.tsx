import { InfoCard, WarningPanel } from '@backstage/core-components';
import { Box, Typography } from '@material-ui/core';
import {
  ClusterStatus,
  RepositoryStatus,
} from '@backstage-gitops/plugin-gitops-common';
import {
  ActionPermissions,
  objectsOf,
  relativeTime,
  StateChip,
  stateOf,
  worstState,
} from '../common';
import { DependsOnGraph } from './DependsOnGraph';
import { FluxObjectRow } from './FluxObjectRow';

/** One cluster: each chain's source then its Kustomizations and HelmReleases. */
export function ClusterCard(props: {
  entityRef: string;
  cluster: ClusterStatus;
  repositories: RepositoryStatus[];
  permissions: ActionPermissions;
  onChanged: () => void;
}) {
  const { entityRef, cluster, repositories, permissions, onChanged } = props;
  const worst = worstState(objectsOf(cluster).map(stateOf));
  const title = (
    <Box display="flex" alignItems="center" style={{ gap: 16 }}>
      <span>Cluster {cluster.name}</span>
      {cluster.stale ? (
        <StateChip state="Stale" />
      ) : (
        worst && <StateChip state={worst} />
      )}
    </Box>
  );
  const rowProps = {
    entityRef,
    cluster: cluster.name,
    repositories,
    permissions,
    onChanged,
  };
  return (
    <InfoCard title={title}>
      {cluster.stale && (
        <Box mb={2} data-testid={`gitops-stale-${cluster.name}`}>
          <WarningPanel
            severity="warning"
            title={`Stale: the data of cluster ${
              cluster.name
            } may be out of date${
              cluster.staleSince
                ? ` (since ${relativeTime(cluster.staleSince)})`
                : ''
            }`}
            message={cluster.error}
          />
        </Box>
      )}
      {cluster.chains.length === 0 &&
        cluster.kubernetesIdObjects.length === 0 &&
        !cluster.hiddenObjects && (
          <Typography variant="body2" color="textSecondary">
            No Flux objects of this entity on {cluster.name}.
          </Typography>
        )}
      {cluster.hiddenObjects ? (
        <Box mb={2} data-testid={`gitops-hidden-${cluster.name}`}>
          <Typography variant="body2" color="textSecondary">
            {cluster.hiddenObjects === 1
              ? '1 object is'
              : `${cluster.hiddenObjects} objects are`}{' '}
            not shown: also claimed by an entity you may not read.
          </Typography>
        </Box>
      ) : null}
      {cluster.chains.map(chain => (
        <Box
          key={`${chain.source.kind}/${chain.source.namespace}/${chain.source.name}`}
          mb={2}
        >
          <FluxObjectRow {...rowProps} item={chain.source} />
          {chain.consumers.map(consumer => (
            <FluxObjectRow
              key={`${consumer.kind}/${consumer.namespace}/${consumer.name}`}
              {...rowProps}
              item={consumer}
              source={chain.source}
            />
          ))}
        </Box>
      ))}
      {cluster.kubernetesIdObjects.length > 0 && (
        <Box mb={2}>
          <Typography variant="subtitle2">
            Objects labelled with the entity's Kubernetes id
          </Typography>
          {cluster.kubernetesIdObjects.map(item => (
            <FluxObjectRow
              key={`${item.kind}/${item.namespace}/${item.name}`}
              {...rowProps}
              item={item}
            />
          ))}
        </Box>
      )}
      <DependsOnGraph cluster={cluster} />
    </InfoCard>
  );
}
