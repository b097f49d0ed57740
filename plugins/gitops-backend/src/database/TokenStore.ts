import {
  TokenRecord,
  UnreadableSecret,
} from '@backstage-gitops/plugin-gitops-common';

/** A token as the inventory builds it; when it was seen and rotated are the store's. */
export type TokenInput = Omit<TokenRecord, 'lastSeenAt' | 'lastRotatedAt'>;

/** Persistence of the token inventory. */
export interface TokenStore {
  list(): Promise<TokenRecord[]>;
  get(id: string): Promise<TokenRecord | undefined>;
  /**
   * Makes the inventory exactly `tokens` in one transaction, all seen now, keeping
   * when each was last rotated.
   */
  replaceAll(tokens: TokenInput[]): Promise<TokenRecord[]>;
  recordRotation(id: string, at: Date): Promise<void>;
  listUnreadable(): Promise<UnreadableSecret[]>;
  /**
   * Makes the unreadable Secrets of the `scanned` clusters exactly `secrets` (seen now);
   * those of other clusters are kept as last seen.
   */
  replaceUnreadable(
    scanned: string[],
    secrets: Array<Omit<UnreadableSecret, 'lastSeenAt'>>,
  ): Promise<void>;
}
