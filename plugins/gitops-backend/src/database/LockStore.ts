/** A named lock as its holder has it. */
export interface HeldLock {
  /** The fencing token: the lock's generation, incremented on every acquisition. */
  readonly generation: number;
  /**
   * Aborted when a renewal finds the lock taken over by another holder (this one
   * stalled past its expiry): the work must stop.
   */
  readonly signal: AbortSignal;
  /**
   * Before a side effect: throws `LeaseLostError` unless the lock is still this
   * holder's, and extends it by its whole time to live.
   */
  check(): Promise<void>;
  /**
   * Runs a write only while the lock is this holder's, and keeps it so until the write
   * ends (on PostgreSQL a take-over waits for it); throws `LeaseLostError` without
   * running it otherwise.
   */
  whileHeld<T>(write: () => Promise<T>): Promise<T>;
}

/** Named locks shared by the backend's replicas. */
export interface LockStore {
  /**
   * Runs `work` holding the lock `name` (renewed while it runs, released after);
   * undefined, without running it, when another holder has it.
   */
  runExclusively<T>(
    name: string,
    work: (lock: HeldLock) => Promise<T>,
  ): Promise<{ result: T } | undefined>;
}
