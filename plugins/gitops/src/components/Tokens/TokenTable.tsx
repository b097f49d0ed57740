import { StatusError, StatusWarning } from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  gitopsTokensManagePermission,
  TokenFinding,
  TokenRecord,
} from '@backstage-gitops/plugin-gitops-common';
import {
  Button,
  Chip,
  CircularProgress,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
  makeStyles,
} from '@material-ui/core';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';

const ROTATABLE: TokenRecord['kind'][] = [
  'deploy-token',
  'deploy-key',
  'project-access-token',
  'group-access-token',
];

// Short values on one line, so the long "used by" and findings columns get the width.
const useStyles = makeStyles({
  nowrap: { whiteSpace: 'nowrap' },
  usedBy: { minWidth: 220 },
  findings: { minWidth: 220 },
});

export const NOT_ADMIN_ROTATE =
  'Rotating credentials needs the gitops.tokens.manage permission';

/** Why Rotate now is refused for a token, or undefined when it may be pressed. */
function rotateDenied(
  token: TokenRecord,
  allowed: boolean,
): string | undefined {
  if (!allowed) return NOT_ADMIN_ROTATE;
  if (token.kind === 'personal-access-token') {
    return 'A personal access token is not rotated: create a deploy token for the repository instead';
  }
  if (!ROTATABLE.includes(token.kind)) {
    return 'The Git host does not know this credential';
  }
  return undefined;
}

/** A deploy key's push right, or a token's scopes: one line each. */
function accessOf(token: TokenRecord): string[] {
  if (token.canPush !== undefined) {
    return [`${token.canPush ? 'read-write' : 'read-only'} key`];
  }
  return token.scopes?.length ? token.scopes : ['—'];
}

function FindingLine(props: { finding: TokenFinding }) {
  const { finding } = props;
  const Status = finding.severity === 'critical' ? StatusError : StatusWarning;
  return (
    <div data-testid={`gitops-finding-${finding.type}`}>
      <Status>{finding.message}</Status>
      <Typography variant="caption" display="block">
        {finding.recommendation}
      </Typography>
    </div>
  );
}

/**
 * Credentials with their kind, scopes, expiry, where they are used and what the report
 * says of them, each with Rotate now (for those allowed `gitops.tokens.manage`).
 */
export function TokenTable(props: {
  tokens: TokenRecord[];
  findings: TokenFinding[];
  /** Called after a rotation, to read the inventory again. */
  onChanged: () => void;
}) {
  const { tokens, findings, onChanged } = props;
  const gitopsApi = useApi(gitopsApiRef);
  const alertApi = useApi(alertApiRef);
  const manage = usePermission({ permission: gitopsTokensManagePermission });
  const [rotating, setRotating] = useState<string | undefined>();
  const classes = useStyles();

  const rotate = async (token: TokenRecord) => {
    setRotating(token.id);
    try {
      const rotated = await gitopsApi.rotateToken(token.id);
      alertApi.post({
        message: `Rotated "${rotated.name}": its sources are Ready with the new credential and the old one is revoked`,
        severity: 'success',
        display: 'transient',
      });
    } catch (error) {
      alertApi.post({
        message: `Rotating "${token.name}" failed: ${(error as Error).message}`,
        severity: 'error',
      });
    } finally {
      setRotating(undefined);
      onChanged();
    }
  };

  return (
    <Table size="small" data-testid="gitops-tokens">
      <TableHead>
        <TableRow>
          <TableCell>Credential</TableCell>
          <TableCell>Scopes</TableCell>
          <TableCell>Expires</TableCell>
          <TableCell>Used by</TableCell>
          <TableCell>Findings</TableCell>
          <TableCell />
        </TableRow>
      </TableHead>
      <TableBody>
        {tokens.map(token => {
          const denied = rotateDenied(token, manage.allowed);
          return (
            <TableRow key={token.id} data-testid={`gitops-token-${token.name}`}>
              <TableCell>
                <Typography variant="body2">
                  {token.name ?? token.fingerprint.slice(0, 19)}
                </Typography>
                <Chip size="small" label={token.kind} />
                {token.lastRotatedAt && (
                  <Typography variant="caption" display="block">
                    rotated {new Date(token.lastRotatedAt).toLocaleString()}
                  </Typography>
                )}
              </TableCell>
              <TableCell className={classes.nowrap}>
                {accessOf(token).map(access => (
                  <div key={access}>{access}</div>
                ))}
              </TableCell>
              <TableCell className={classes.nowrap}>
                {/* GitLab expires tokens on a day; a date is all there is to say. */}
                {token.expiresAt?.slice(0, 10) ?? 'never'}
              </TableCell>
              <TableCell className={classes.usedBy}>
                {token.usages.map(usage => (
                  <Typography
                    variant="body2"
                    key={`${usage.cluster}/${usage.namespace}/${usage.secret}/${usage.key}/${usage.object.name}`}
                  >
                    {usage.cluster}: {usage.namespace}/{usage.secret} (
                    {usage.object.kind} {usage.object.name}
                    {usage.purpose === 'commit-status' ? ', commit status' : ''}
                    )
                  </Typography>
                ))}
              </TableCell>
              <TableCell className={classes.findings}>
                {findings
                  .filter(finding => finding.tokenId === token.id)
                  .map(finding => (
                    <FindingLine key={finding.type} finding={finding} />
                  ))}
              </TableCell>
              <TableCell className={classes.nowrap}>
                <span title={denied ?? ''}>
                  <Button
                    size="small"
                    variant="outlined"
                    disabled={!!denied || manage.loading || !!rotating}
                    onClick={() => rotate(token)}
                    data-testid={`gitops-rotate-${token.name}`}
                  >
                    {rotating === token.id ? (
                      <CircularProgress size={16} />
                    ) : (
                      'Rotate now'
                    )}
                  </Button>
                </span>
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
