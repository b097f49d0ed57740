import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
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
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { gitopsApiRef } from '../../api';
import { relativeTime, STATUS_REFRESH_MS } from '../common';

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
  const receivers = useAsyncRetry(
    () => gitopsApi.getReceivers(entityRef),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [gitopsApi, entityRef, version],
  );
  useInterval(receivers.retry, STATUS_REFRESH_MS);

  let body;
  if (receivers.error) {
    body = <ResponseErrorPanel error={receivers.error} />;
  } else if (!receivers.value) {
    body = <Progress />;
  } else if (receivers.value.length === 0) {
    body = (
      <Typography variant="body2" color="textSecondary">
        No managed receiver: pushes reach the clusters at the sources' interval.
        Receivers are kept for sources on a configured Git host.
      </Typography>
    );
  } else {
    body = (
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
          {receivers.value.map(receiver => (
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
    );
  }
  return <InfoCard title="Receivers">{body}</InfoCard>;
}
