/** Which requests an injected failure applies to. */
export type FaultScope = 'api' | 'git' | 'all';

export interface FailNextOptions {
  /** Sent as `Retry-After` (seconds), typically with 429. */
  retryAfterSeconds?: number;
  /** `api` (default): REST API requests; `git`: Git smart HTTP; `all`: both. */
  scope?: FaultScope;
}

export interface Fault {
  status: number;
  retryAfterSeconds?: number;
}

/** Failures and latency injected into the instance's HTTP answers. */
export class Faults {
  #remaining = 0;
  #fault: Fault = { status: 500 };
  #scope: FaultScope = 'api';
  #latencyMs = 0;

  /** The next `count` matching requests answer `status` instead of being served. */
  failNext(count: number, status: number, options: FailNextOptions = {}): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`Invalid failure count ${count}`);
    }
    if (status !== 429 && (status < 500 || status > 599)) {
      throw new Error(`Injected failures are 5xx or 429, not ${status}`);
    }
    this.#remaining = count;
    this.#fault = { status, retryAfterSeconds: options.retryAfterSeconds };
    this.#scope = options.scope ?? 'api';
  }

  /** Every request waits this long before it is handled. */
  setLatency(ms: number): void {
    if (!(ms >= 0)) {
      throw new Error(`Invalid latency ${ms}`);
    }
    this.#latencyMs = ms;
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** The failure this request must get, if one is pending for its kind. */
  take(kind: 'api' | 'git'): Fault | undefined {
    if (
      this.#remaining === 0 ||
      (this.#scope !== 'all' && this.#scope !== kind)
    ) {
      return undefined;
    }
    this.#remaining -= 1;
    return this.#fault;
  }
}
