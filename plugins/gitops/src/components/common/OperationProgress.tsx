import { useEffect, useState } from 'react';
import { Box, Typography } from '@material-ui/core';
import {
  StatusError,
  StatusOK,
  StatusPending,
  StatusRunning,
} from '@backstage/core-components';
import {
  Operation,
  OperationStep,
} from '@backstage-gitops/plugin-gitops-common';
import { DateTime } from 'luxon';
import { elapsed, parseRevision } from './status';

function stepText(step: OperationStep): string {
  const object = `${step.object.kind} ${step.object.namespace}/${step.object.name}`;
  const revision = step.revision
    ? ` at ${parseRevision(step.revision).short}`
    : '';
  const message = step.message ? `: ${step.message}` : '';
  return `${step.type} ${object}${revision}${message}`;
}

function StatusIcon(props: { operation: Operation }) {
  const { status } = props.operation;
  if (status === 'succeeded') return <StatusOK>succeeded</StatusOK>;
  if (status === 'failed') return <StatusError>failed</StatusError>;
  if (status === 'running') return <StatusRunning>running</StatusRunning>;
  return <StatusPending>pending</StatusPending>;
}

/** Ticks every second while something runs, so elapsed times move on their own. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** The live progress of the operations an action started: steps, elapsed time, outcome. */
export function OperationProgress(props: { operations: Operation[] }) {
  const { operations } = props;
  const active = operations.some(
    operation =>
      operation.status === 'pending' || operation.status === 'running',
  );
  const now = useNow(active);
  if (operations.length === 0) return null;
  return (
    <Box mt={1} data-testid="gitops-operation-progress">
      {operations.map(operation => {
        const start = DateTime.fromISO(operation.createdAt).toMillis();
        const end = operation.finishedAt
          ? DateTime.fromISO(operation.finishedAt).toMillis()
          : now;
        const took =
          operation.durationMs ??
          (Number.isFinite(start) ? end - start : undefined);
        return (
          <Box key={operation.id} mb={1}>
            <Typography variant="body2" component="div">
              <StatusIcon operation={operation} /> {operation.action}{' '}
              {operation.target.kind} {operation.target.namespace}/
              {operation.target.name} on {operation.cluster}
              {took !== undefined && ` — ${elapsed(took)}`}
            </Typography>
            <Box component="ul" m={0} pl={3}>
              {operation.steps.map((step, index) => (
                <Typography
                  key={`${step.type}-${index}`}
                  component="li"
                  variant="caption"
                  display="block"
                  color={step.type === 'failed' ? 'error' : 'textSecondary'}
                >
                  {DateTime.fromISO(step.at).toLocaleString(
                    DateTime.TIME_WITH_SECONDS,
                  )}{' '}
                  {stepText(step)}
                </Typography>
              ))}
            </Box>
            {operation.status === 'failed' && operation.error && (
              <Typography variant="body2" color="error">
                {operation.error}
              </Typography>
            )}
          </Box>
        );
      })}
    </Box>
  );
}
