import {
  OPERATION_FAST_POLL_WINDOW_MS,
  OPERATION_POLL_FAST_MS,
  OPERATION_POLL_MS,
  operationPollDelayMs,
} from './operations';

describe('operationPollDelayMs', () => {
  it('reads fast in the first seconds and slower after', () => {
    expect(operationPollDelayMs(0)).toBe(OPERATION_POLL_FAST_MS);
    expect(operationPollDelayMs(OPERATION_FAST_POLL_WINDOW_MS - 1)).toBe(
      OPERATION_POLL_FAST_MS,
    );
    expect(operationPollDelayMs(OPERATION_FAST_POLL_WINDOW_MS)).toBe(
      OPERATION_POLL_MS,
    );
    expect(OPERATION_POLL_FAST_MS).toBeLessThan(OPERATION_POLL_MS);
  });
});
