import type { AuditRecord } from '@backstage-gitops/plugin-gitops-common';

export type { AuditRecord };

export type AuditInput = Omit<AuditRecord, 'id'>;

/** Persistence of the audit trail. */
export interface AuditStore {
  record(input: AuditInput): Promise<AuditRecord>;
  /** Newest first; `limit` defaults to 50. */
  list(filter: { entityRef: string; limit?: number }): Promise<AuditRecord[]>;
}
