import { useState } from 'react';
import { Box, Collapse, Link, makeStyles, Typography } from '@material-ui/core';
import ExpandLessIcon from '@material-ui/icons/ExpandLess';
import ExpandMoreIcon from '@material-ui/icons/ExpandMore';
import SyncIcon from '@material-ui/icons/Sync';
import {
  FluxStatusItem,
  RepositoryStatus,
} from '@backstage-gitops/plugin-gitops-common';
import {
  ActionButton,
  ActionPermissions,
  behindText,
  commitUrl,
  ConfirmDialog,
  inventoryLabel,
  isConsumer,
  lastReconciledAt,
  OperationProgress,
  parseRevision,
  relativeTime,
  revisionOf,
  StateChip,
  stateOf,
  useGitOpsActions,
} from '../common';

const useStyles = makeStyles(theme => ({
  row: {
    padding: theme.spacing(1, 0),
    borderTop: `1px solid ${theme.palette.divider}`,
  },
  consumer: { paddingLeft: theme.spacing(3) },
  line: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: theme.spacing(2),
  },
  grow: { flexGrow: 1 },
  toggle: { cursor: 'pointer' },
}));

export const SUSPENDED_REASON =
  'The object is suspended: resume it before syncing';

function Revision(props: {
  item: FluxStatusItem;
  cluster: string;
  repositories: RepositoryStatus[];
}) {
  const { item, cluster, repositories } = props;
  const revision = revisionOf(item);
  const testId = isConsumer(item)
    ? `gitops-revision-${cluster}-${item.name}`
    : `gitops-source-revision-${cluster}-${item.name}`;
  if (!revision) {
    return (
      <Typography variant="body2" color="textSecondary" data-testid={testId}>
        no revision yet
      </Typography>
    );
  }
  const parsed = parseRevision(revision);
  const origin = item.originRevision
    ? parseRevision(item.originRevision)
    : undefined;
  const href =
    parsed.algorithm === 'sha1'
      ? commitUrl(parsed.hash, repositories)
      : undefined;
  const originHref =
    origin?.algorithm === 'sha1'
      ? commitUrl(origin.hash, repositories)
      : undefined;
  const text = `${parsed.ref ? `${parsed.ref}@` : ''}${parsed.short}`;
  return (
    <Typography variant="body2" component="span" data-testid={testId}>
      {href ? (
        <Link href={href} target="_blank" rel="noopener" title={revision}>
          {text}
        </Link>
      ) : (
        <span title={revision}>{text}</span>
      )}
      {origin && (
        <>
          {' from '}
          {originHref ? (
            <Link href={originHref} target="_blank" rel="noopener">
              {origin.short}
            </Link>
          ) : (
            origin.short
          )}
        </>
      )}
    </Typography>
  );
}

/**
 * One Flux object: state, name, revision, freshness, interval, message, inventory and
 * events; for Kustomizations and HelmReleases also Sync now and Suspend/Resume.
 */
export function FluxObjectRow(props: {
  entityRef: string;
  cluster: string;
  item: FluxStatusItem;
  /** The chain's source, for a consumer: how far behind its branch the artifact is. */
  source?: FluxStatusItem;
  repositories: RepositoryStatus[];
  permissions: ActionPermissions;
  onChanged: () => void;
}) {
  const { entityRef, cluster, item, source, repositories, permissions } = props;
  const classes = useStyles();
  const [showInventory, setShowInventory] = useState(false);
  const [confirmSuspend, setConfirmSuspend] = useState(false);
  const actions = useGitOpsActions(entityRef, props.onChanged);
  const consumer = isConsumer(item);
  const target = {
    cluster,
    kind: item.kind,
    namespace: item.namespace,
    name: item.name,
  };

  const appliesSourceArtifact = Boolean(
    source &&
      item.lastAppliedRevision &&
      item.lastAppliedRevision === source.artifactRevision,
  );
  let behind: string | undefined;
  if (!consumer) {
    behind = behindText(item.commitsBehind);
  } else if (appliesSourceArtifact) {
    behind = behindText(source?.commitsBehind);
  }
  const reconciledAt = lastReconciledAt(item);
  const inventory = item.inventory ?? [];
  const events = item.events.slice(0, 3);
  const syncDisabledReason =
    permissions.syncDenied ?? (item.suspended ? SUSPENDED_REASON : undefined);
  const suspendDisabledReason = permissions.suspendDenied;

  return (
    <Box className={`${classes.row} ${consumer ? classes.consumer : ''}`}>
      <Box className={classes.line}>
        <StateChip state={stateOf(item)} />
        <Typography variant="body2">
          <strong>{item.kind}</strong> {item.namespace}/{item.name}
        </Typography>
        <Revision item={item} cluster={cluster} repositories={repositories} />
        {behind && (
          <Typography variant="body2" color="textSecondary">
            {behind}
          </Typography>
        )}
        {reconciledAt && (
          <Typography
            variant="body2"
            color="textSecondary"
            title={reconciledAt}
          >
            reconciled {relativeTime(reconciledAt)}
          </Typography>
        )}
        {item.interval && (
          <Typography variant="body2" color="textSecondary">
            every {item.interval}
          </Typography>
        )}
        <span className={classes.grow} />
        {consumer && (
          <Box>
            <ActionButton
              label="Sync now"
              icon={<SyncIcon />}
              color="primary"
              testId={`gitops-sync-${cluster}-${item.name}`}
              disabledReason={syncDisabledReason}
              busy={actions.busy || permissions.loading}
              onClick={() =>
                actions.run({ action: 'reconcile', target, withSource: true })
              }
            />
            <ActionButton
              label="Without source"
              testId={`gitops-sync-nosource-${cluster}-${item.name}`}
              disabledReason={syncDisabledReason}
              busy={actions.busy || permissions.loading}
              onClick={() =>
                actions.run({ action: 'reconcile', target, withSource: false })
              }
            />
            {item.suspended ? (
              <ActionButton
                label="Resume"
                testId={`gitops-resume-${cluster}-${item.name}`}
                disabledReason={suspendDisabledReason}
                busy={actions.busy || permissions.loading}
                onClick={() => actions.run({ action: 'resume', target })}
              />
            ) : (
              <ActionButton
                label="Suspend"
                testId={`gitops-suspend-${cluster}-${item.name}`}
                disabledReason={suspendDisabledReason}
                busy={actions.busy || permissions.loading}
                onClick={() => setConfirmSuspend(true)}
              />
            )}
          </Box>
        )}
      </Box>
      {item.ready.message && (
        <Typography
          variant="body2"
          color={stateOf(item) === 'Ready' ? 'textSecondary' : 'error'}
        >
          {item.ready.reason ? `${item.ready.reason}: ` : ''}
          {item.ready.message}
        </Typography>
      )}
      {inventory.length > 0 && (
        <>
          <Typography
            variant="caption"
            color="primary"
            className={classes.toggle}
            role="button"
            onClick={() => setShowInventory(!showInventory)}
          >
            {showInventory ? (
              <ExpandLessIcon fontSize="inherit" />
            ) : (
              <ExpandMoreIcon fontSize="inherit" />
            )}{' '}
            Inventory ({inventory.length} object
            {inventory.length === 1 ? '' : 's'})
          </Typography>
          <Collapse in={showInventory} unmountOnExit>
            <Box component="ul" m={0} pl={3}>
              {inventory.map(id => (
                <Typography
                  key={id}
                  component="li"
                  variant="caption"
                  display="block"
                >
                  {inventoryLabel(id)}
                </Typography>
              ))}
            </Box>
          </Collapse>
        </>
      )}
      {events.length > 0 && (
        <Box component="ul" m={0} pl={3}>
          {events.map((event, index) => (
            <Typography
              key={`${event.reason}-${index}`}
              component="li"
              variant="caption"
              display="block"
              color={event.type === 'Warning' ? 'error' : 'textSecondary'}
            >
              {event.lastSeen ? `${relativeTime(event.lastSeen)} · ` : ''}
              {event.reason ? `${event.reason}: ` : ''}
              {event.message}
              {event.count && event.count > 1 ? ` (×${event.count})` : ''}
            </Typography>
          ))}
        </Box>
      )}
      {actions.error && (
        <Typography variant="body2" color="error">
          {actions.error.message}
        </Typography>
      )}
      <OperationProgress operations={actions.operations} />
      <ConfirmDialog
        open={confirmSuspend}
        title={`Suspend ${item.kind} ${item.namespace}/${item.name} on ${cluster}?`}
        text="Flux stops reconciling this object, so new commits are not applied until it is resumed."
        confirmLabel="Suspend"
        onCancel={() => setConfirmSuspend(false)}
        onConfirm={() => {
          setConfirmSuspend(false);
          actions.run({ action: 'suspend', target });
        }}
      />
    </Box>
  );
}
