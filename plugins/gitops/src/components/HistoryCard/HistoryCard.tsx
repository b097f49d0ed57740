import { InfoCard, StatusError, StatusOK } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from '@material-ui/core';
import { gitopsApiRef } from '../../api';
import { elapsed, PolledListBody, relativeTime } from '../common';

/** Strips `user:default/` from an actor ref for display. */
function actorName(actor: string): string {
  return actor.replace(/^user:default\//, '');
}

/**
 * Who synced, suspended or resumed what on the entity, when, and the outcome.
 *
 * @public
 */
export function HistoryCard(props: {
  entityRef: string;
  /** Changing it reads the history again (e.g. when an action ends). */
  version?: number;
}) {
  const { entityRef, version } = props;
  const gitopsApi = useApi(gitopsApiRef);
  return (
    <InfoCard title="History">
      <PolledListBody
        load={() => gitopsApi.getAudit(entityRef)}
        deps={[gitopsApi, entityRef, version]}
        empty="No one has synced, suspended or resumed this entity's Flux objects yet."
      >
        {records => (
          <Table size="small" data-testid="gitops-history">
            <TableHead>
              <TableRow>
                <TableCell>When</TableCell>
                <TableCell>Who</TableCell>
                <TableCell>Action</TableCell>
                <TableCell>Object</TableCell>
                <TableCell>Cluster</TableCell>
                <TableCell>Outcome</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {records.map(record => (
                <TableRow key={record.id}>
                  <TableCell title={record.at}>
                    {relativeTime(record.at)}
                  </TableCell>
                  <TableCell title={record.actor}>
                    {actorName(record.actor)}
                  </TableCell>
                  <TableCell>{record.action}</TableCell>
                  <TableCell>
                    {record.target.kind} {record.target.namespace}/
                    {record.target.name}
                  </TableCell>
                  <TableCell>{record.cluster}</TableCell>
                  <TableCell>
                    {record.outcome === 'succeeded' ? (
                      <StatusOK>succeeded</StatusOK>
                    ) : (
                      <StatusError>failed</StatusError>
                    )}{' '}
                    in {elapsed(record.durationMs)}
                    {record.message && (
                      <Typography variant="caption" display="block">
                        {record.message}
                      </Typography>
                    )}
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
