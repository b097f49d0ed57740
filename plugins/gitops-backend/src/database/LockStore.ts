/** Named locks shared by the backend's replicas. */
export interface LockStore {
  /**
   * Runs `work` holding the lock `name` (renewed while it runs, released after);
   * undefined, without running it, when another holder has it.
   */
  runExclusively<T>(
    name: string,
    work: () => Promise<T>,
  ): Promise<{ result: T } | undefined>;
}
