import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { Typography } from '@material-ui/core';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { gitopsApiRef } from '../../api';
import { TokenTable } from './TokenTable';

/**
 * The credentials Flux uses for the entity's delivery repositories, with the report's
 * findings and Rotate now.
 *
 * @public
 */
export function TokensCard(props: { entityRef: string }) {
  const { entityRef } = props;
  const gitopsApi = useApi(gitopsApiRef);
  const tokens = useAsyncRetry(
    () => gitopsApi.getEntityTokens(entityRef),
    [gitopsApi, entityRef],
  );
  let body;
  if (tokens.error) {
    body =
      (tokens.error as { response?: { status?: number } }).response?.status ===
      403 ? (
        <Typography variant="body2" color="textSecondary">
          Seeing the credentials needs the gitops.tokens.read permission.
        </Typography>
      ) : (
        <ResponseErrorPanel error={tokens.error} />
      );
  } else if (!tokens.value) {
    body = <Progress />;
  } else if (tokens.value.items.length === 0) {
    body = (
      <Typography variant="body2" color="textSecondary">
        No credential in use for this entity's delivery repositories (public
        repositories need none), or the inventory has not run yet.
      </Typography>
    );
  } else {
    body = (
      <TokenTable
        tokens={tokens.value.items}
        findings={tokens.value.findings}
        onChanged={tokens.retry}
      />
    );
  }
  return <InfoCard title="Tokens">{body}</InfoCard>;
}
