import {
  InfoCard,
  StatusError,
  StatusOK,
  StatusWarning,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from '@material-ui/core';
import { gitopsApiRef } from '../../api';
import { PolledListBody, relativeTime } from '../common';

function Result(props: { receiver: ManagedReceiver }) {
  const { lastResult, lastMessage } = props.receiver;
  if (!lastResult) {
    return (
      <Typography variant="body2" color="textSecondary">
        not triggered yet
      </Typography>
    );
  }
  const label = {
    succeeded: <StatusOK>receiver called</StatusOK>,
    fallback: <StatusWarning>fallback: requestedAt annotated</StatusWarning>,
    failed: <StatusError>failed</StatusError>,
  }[lastResult];
  return (
    <>
      {label}
      {lastMessage && (
        <Typography variant="caption" display="block">
          {lastMessage}
        </Typography>
      )}
    </>
  );
}

/**
 * The Flux Receivers the backend keeps for the entity's delivery repositories, so a
 * push reconciles at once: where they are and how their last trigger went.
 *
 * @public
 */
export function ReceiversCard(props: {
  entityRef: string;
  /** Changing it reads the receivers again (e.g. when an action ends). */
  version?: number;
}) {
  const { entityRef, version } = props;
  const gitopsApi = useApi(gitopsApiRef);
  return (
    <InfoCard title="Receivers">
      <PolledListBody
        load={() => gitopsApi.getReceivers(entityRef)}
        deps={[gitopsApi, entityRef, version]}
        empty="No managed receiver: pushes reach the clusters at the sources' interval. Receivers are kept for sources on a configured Git host."
      >
        {receivers => (
          <Table size="small" data-testid="gitops-receivers">
            <TableHead>
              <TableRow>
                <TableCell>Cluster</TableCell>
                <TableCell>Receiver</TableCell>
                <TableCell>Source</TableCell>
                <TableCell>Last triggered</TableCell>
                <TableCell>Result</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {receivers.map(receiver => (
                <TableRow
                  key={`${receiver.cluster}/${receiver.namespace}/${receiver.name}`}
                >
                  <TableCell>{receiver.cluster}</TableCell>
                  <TableCell>
                    {receiver.namespace}/{receiver.name}
                  </TableCell>
                  <TableCell>
                    {receiver.source.kind} {receiver.source.name}
                  </TableCell>
                  <TableCell title={receiver.lastTriggeredAt}>
                    {receiver.lastTriggeredAt
                      ? relativeTime(receiver.lastTriggeredAt)
                      : '—'}
                  </TableCell>
                  <TableCell>
                    <Result receiver={receiver} />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </PolledListBody>
    </InfoCard>
  );
}
