import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { Typography } from '@material-ui/core';
import { DependencyList, ReactNode } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { STATUS_REFRESH_MS } from './useEntityStatus';

/**
 * Loads a list and reads it again every `STATUS_REFRESH_MS` and whenever `deps`
 * change; renders the error, the progress, the `empty` text or `children(items)`.
 */
export function PolledListBody<T>(props: {
  load: () => Promise<T[]>;
  deps: DependencyList;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  const { load, deps, empty, children } = props;
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const list = useAsyncRetry(load, deps);
  useInterval(list.retry, STATUS_REFRESH_MS);
  if (list.error) return <ResponseErrorPanel error={list.error} />;
  if (!list.value) return <Progress />;
  if (list.value.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        {empty}
      </Typography>
    );
  }
  return <>{children(list.value)}</>;
}
