import {
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
} from '@backstage/core-components';
import { ObjectState } from './status';

/** The state of a Flux object (or `Stale` for a cluster) with its status icon. */
export function StateChip(props: { state: ObjectState | 'Stale' }) {
  const { state } = props;
  switch (state) {
    case 'Ready':
      return <StatusOK>Ready</StatusOK>;
    case 'Progressing':
      return <StatusPending>Progressing</StatusPending>;
    case 'Suspended':
      return <StatusWarning>Suspended</StatusWarning>;
    case 'Stale':
      return <StatusWarning>Stale</StatusWarning>;
    case 'Failed':
      return <StatusError>Failed</StatusError>;
    default:
      return <StatusError>Stalled</StatusError>;
  }
}
