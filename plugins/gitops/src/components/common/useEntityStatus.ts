import { useRef } from 'react';
import { useApi } from '@backstage/core-plugin-api';
import { EntityStatus } from '@backstage-gitops/plugin-gitops-common';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { gitopsApiRef } from '../../api';

/** How often the status is read again on its own. */
export const STATUS_REFRESH_MS = 10_000;

/**
 * The entity's GitOps status, read again every 10 s; `retry` reads it now. A failed
 * refresh keeps the last status it had, with the error beside it.
 */
export function useEntityStatus(entityRef: string) {
  const gitopsApi = useApi(gitopsApiRef);
  const last = useRef<EntityStatus>();
  const state = useAsyncRetry(
    () => gitopsApi.getStatus(entityRef),
    [gitopsApi, entityRef],
  );
  if (state.value) last.current = state.value;
  useInterval(state.retry, STATUS_REFRESH_MS);
  return {
    value: state.value ?? last.current,
    loading: state.loading,
    error: state.error,
    retry: state.retry,
  };
}
