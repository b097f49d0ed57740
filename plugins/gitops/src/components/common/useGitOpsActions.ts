import { useCallback, useEffect, useRef, useState } from 'react';
import { useApi } from '@backstage/core-plugin-api';
import {
  Operation,
  operationPollDelayMs,
} from '@backstage-gitops/plugin-gitops-common';
import { GitOpsActionTarget, gitopsApiRef } from '../../api';

export type GitOpsAction =
  | { action: 'reconcile'; target?: GitOpsActionTarget; withSource: boolean }
  | { action: 'suspend' | 'resume'; target: GitOpsActionTarget };

function isFinished(operation: Operation): boolean {
  return operation.status === 'succeeded' || operation.status === 'failed';
}

/**
 * Starts GitOps actions on an entity and follows the operations they start: each is
 * read again (every 250 ms at first, then every second) until it has succeeded or
 * failed, then `onFinished` runs (the caller refreshes the status).
 */
export function useGitOpsActions(entityRef: string, onFinished: () => void) {
  const gitopsApi = useApi(gitopsApiRef);
  const [operations, setOperations] = useState<Operation[]>([]);
  const [error, setError] = useState<Error>();
  const [starting, setStarting] = useState(false);
  const startedAtRef = useRef(0);
  const onFinishedRef = useRef(onFinished);
  onFinishedRef.current = onFinished;

  const run = useCallback(
    async (request: GitOpsAction) => {
      setStarting(true);
      setError(undefined);
      startedAtRef.current = Date.now();
      try {
        const started =
          request.action === 'reconcile'
            ? await gitopsApi.reconcile(entityRef, {
                target: request.target,
                withSource: request.withSource,
              })
            : await gitopsApi[request.action](entityRef, request.target);
        setOperations(started);
        if (started.every(isFinished)) onFinishedRef.current();
      } catch (e) {
        setError(e as Error);
      } finally {
        setStarting(false);
      }
    },
    [gitopsApi, entityRef],
  );

  const running = operations.some(operation => !isFinished(operation));

  useEffect(() => {
    if (!running) return undefined;
    let cancelled = false;
    const timer = setTimeout(async () => {
      try {
        const next = await Promise.all(
          operations.map(operation =>
            isFinished(operation)
              ? operation
              : gitopsApi.getOperation(operation.id),
          ),
        );
        if (cancelled) return;
        setOperations(next);
        if (next.every(isFinished)) onFinishedRef.current();
      } catch (e) {
        if (!cancelled) {
          setError(e as Error);
          setOperations(current =>
            current.map(operation =>
              isFinished(operation)
                ? operation
                : {
                    ...operation,
                    status: 'failed',
                    error: (e as Error).message,
                  },
            ),
          );
        }
      }
    }, operationPollDelayMs(Date.now() - startedAtRef.current));
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [gitopsApi, operations, running]);

  return { operations, error, busy: starting || running, run };
}
