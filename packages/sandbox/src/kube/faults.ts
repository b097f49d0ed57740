/** What the fault injection is currently set to. */
export interface FaultState {
  down: boolean;
  latencyMs: number;
  failNext: { remaining: number; code: number };
  openWatches: number;
}

/** Fault injection on one API server: outages, latency, failing requests, dropped watches. */
export interface KubeApiFaults {
  /** Down: the port refuses connections and open ones are reset; up again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** Delay added before every request is handled. */
  setLatency(ms: number): void;
  /** The next `count` API requests answer `code` (default 500) with a Status. */
  failNext(count: number, code?: number): void;
  /** Ends every open watch stream now, cleanly, as an API server restart would. */
  dropWatches(): void;
  describe(): FaultState;
}

/** How the faults reach into the server they belong to. */
export interface FaultTarget {
  setListening(listening: boolean): Promise<void>;
  isListening(): boolean;
  openWatchCount(): number;
  endAllWatches(): void;
}

export interface FaultInjector {
  readonly api: KubeApiFaults;
  latencyMs(): number;
  /** Consumes one injected failure, returning its HTTP code, if one is pending. */
  takeFailure(): number | undefined;
}

export function createFaultInjector(target: FaultTarget): FaultInjector {
  let latency = 0;
  let failRemaining = 0;
  let failCode = 500;
  return {
    api: {
      setDown: down => target.setListening(!down),
      setLatency(ms) {
        latency = Math.max(0, ms);
      },
      failNext(count, code = 500) {
        failRemaining = Math.max(0, count);
        failCode = code;
      },
      dropWatches: () => target.endAllWatches(),
      describe: () => ({
        down: !target.isListening(),
        latencyMs: latency,
        failNext: { remaining: failRemaining, code: failCode },
        openWatches: target.openWatchCount(),
      }),
    },
    latencyMs: () => latency,
    takeFailure() {
      if (failRemaining <= 0) return undefined;
      failRemaining--;
      return failCode;
    },
  };
}
