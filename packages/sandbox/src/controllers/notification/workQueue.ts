/**
 * A tiny controller work queue: each key is processed at most once per due time, a key
 * added again before it runs keeps the earliest due time, and processing never overlaps.
 */
export class WorkQueue {
  private readonly timers = new Map<
    string,
    { due: number; timer: NodeJS.Timeout }
  >();
  private stopped = false;

  constructor(private readonly process: (key: string) => void) {}

  add(key: string, delayMs = 0): void {
    if (this.stopped) {
      return;
    }
    const due = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) {
      return;
    }
    if (pending) {
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => this.run(key), delayMs);
    timer.unref();
    this.timers.set(key, { due, timer });
  }

  forget(key: string): void {
    const pending = this.timers.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) {
      clearTimeout(timer);
    }
    this.timers.clear();
  }

  private run(key: string): void {
    this.timers.delete(key);
    if (!this.stopped) {
      this.process(key);
    }
  }
}

/** controller-runtime's per-item exponential failure backoff, with smaller bounds. */
export class FailureBackoff {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseDelayMs: number,
    private readonly maxDelayMs: number,
  ) {}

  next(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }
}
