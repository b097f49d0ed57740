/** The instance's notion of "now", which tests and the demo can pin to move time. */
export class Clock {
  #fixed: Date | undefined;

  now(): Date {
    return this.#fixed ? new Date(this.#fixed) : new Date();
  }

  /** Pins the time (undefined goes back to the real time). */
  set(date: Date | undefined): void {
    this.#fixed = date ? new Date(date) : undefined;
  }

  /** Today's date in UTC as `YYYY-MM-DD`, the unit token expiry dates are compared in. */
  today(): string {
    return formatDate(this.now());
  }

  /** The date `days` after today, as `YYYY-MM-DD`. */
  daysFromToday(days: number): string {
    return formatDate(new Date(this.now().getTime() + days * 86_400_000));
  }
}

export function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}
