import {
  Content,
  Header,
  InfoCard,
  Page,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { gitopsTokensManagePermission } from '@backstage-gitops/plugin-gitops-common';
import {
  Button,
  Grid,
  MenuItem,
  TextField,
  Typography,
} from '@material-ui/core';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { gitopsApiRef } from '../../api';
import { NOT_ADMIN_ROTATE, TokenTable } from './TokenTable';

/** Creates a least-privilege credential for a repository and puts it in use. */
function CreateTokenForm(props: { onCreated: () => void }) {
  const gitopsApi = useApi(gitopsApiRef);
  const alertApi = useApi(alertApiRef);
  const manage = usePermission({ permission: gitopsTokensManagePermission });
  const [repository, setRepository] = useState('');
  const [purpose, setPurpose] = useState<'read' | 'commit-status'>('read');
  const [busy, setBusy] = useState(false);

  const create = async () => {
    setBusy(true);
    try {
      const token = await gitopsApi.createToken({ repository, purpose });
      alertApi.post({
        message: `Created ${token.kind} "${token.name}" (${(
          token.scopes ?? []
        ).join(', ')}), in use by ${token.usages.length} Secret key(s)`,
        severity: 'success',
        display: 'transient',
      });
      setRepository('');
      props.onCreated();
    } catch (error) {
      alertApi.post({
        message: `Creating the credential failed: ${(error as Error).message}`,
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <InfoCard title="Create a least-privilege credential">
      <Typography variant="body2" paragraph>
        A deploy token with only the read scopes needed (a read-only deploy key
        for SSH), or a project access token with api for commit status, written
        into the Secrets of the repository's sources or Providers. The
        credentials it replaces there are not revoked.
      </Typography>
      <Grid container spacing={2} alignItems="center">
        <Grid item xs={12} md={6}>
          <TextField
            label="Delivery repository URL"
            placeholder="https://gitlab.example.com/team/delivery.git or oci://…"
            value={repository}
            onChange={event => setRepository(event.target.value)}
            fullWidth
            inputProps={{ 'data-testid': 'gitops-create-repository' }}
          />
        </Grid>
        <Grid item xs={6} md={3}>
          <TextField
            select
            label="For"
            value={purpose}
            onChange={event =>
              setPurpose(event.target.value as 'read' | 'commit-status')
            }
            fullWidth
          >
            <MenuItem value="read">Flux reading it</MenuItem>
            <MenuItem value="commit-status">Commit status</MenuItem>
          </TextField>
        </Grid>
        <Grid item xs={6} md={3}>
          <span title={manage.allowed ? '' : NOT_ADMIN_ROTATE}>
            <Button
              variant="contained"
              color="primary"
              disabled={!repository || busy || !manage.allowed}
              onClick={create}
              data-testid="gitops-create-token"
            >
              {busy ? 'Creating…' : 'Create'}
            </Button>
          </span>
        </Grid>
      </Grid>
    </InfoCard>
  );
}

/**
 * The administrators' page: the token report, every credential Flux uses with Rotate
 * now, and Create.
 *
 * @public
 */
export function TokensPage() {
  const gitopsApi = useApi(gitopsApiRef);
  const inventory = useAsyncRetry(async () => {
    const [tokens, findings] = await Promise.all([
      gitopsApi.getTokens(),
      gitopsApi.getTokenReport(),
    ]);
    return { tokens, findings };
  }, [gitopsApi]);

  let body;
  if (inventory.error) {
    body = <ResponseErrorPanel error={inventory.error} />;
  } else if (!inventory.value) {
    body = <Progress />;
  } else {
    const { tokens, findings } = inventory.value;
    body = (
      <InfoCard
        title="Credentials Flux uses"
        subheader={`${findings.length} finding(s) in the report`}
      >
        <TokenTable
          tokens={tokens}
          findings={findings}
          onChanged={inventory.retry}
        />
      </InfoCard>
    );
  }
  return (
    <Page themeId="tool">
      <Header
        title="GitOps tokens"
        subtitle="The credentials Flux uses, what is wrong with them, and their rotation"
      />
      <Content>
        <Grid container spacing={3}>
          <Grid item xs={12}>
            {body}
          </Grid>
          <Grid item xs={12}>
            <CreateTokenForm onCreated={inventory.retry} />
          </Grid>
        </Grid>
      </Content>
    </Page>
  );
}
