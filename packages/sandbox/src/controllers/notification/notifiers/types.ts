import type { FluxEvent } from '../fluxEvent';
import type { RequestContext } from './http';

export interface PostedCommitStatus {
  sha: string;
  /** GitLab `name`, GitHub `context`. */
  name: string;
  state: string;
  description: string;
}

export interface NotifyResult {
  outcome: 'delivered' | 'skipped';
  detail: string;
  commitStatus?: PostedCommitStatus;
}

/** One Provider type's delivery; throws NotifierError when the delivery fails. */
export interface Notifier {
  post(event: FluxEvent, context: RequestContext): Promise<NotifyResult>;
}
