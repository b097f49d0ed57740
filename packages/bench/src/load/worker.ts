import { randomUUID } from 'node:crypto';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { Agent, fetch } from 'undici';
import { sleep } from '../wait';

/**
 * Connections kept open to the backend: requests beyond them wait client-side (and their
 * wait counts in their answer time), as a Git host's webhook workers would, rather than
 * opening a connection each and timing out in the server's accept queue.
 */
const CONNECTIONS = 128;

export interface LoadOptions {
  url: string;
  /** Sent with every request; `X-Gitlab-Event-UUID` is added, fresh each time. */
  headers: Record<string, string>;
  body: string;
  perSecond: number;
  seconds: number;
  /** The answer counted as success. */
  expectedStatus: number;
}

export interface LoadOutcome {
  sent: number;
  /** From the first request sent to the last. */
  sendingMs: number;
  errors: number;
  /** The errors by answer status or failure, e.g. `{ "503": 2, "ECONNRESET": 1 }`. */
  errorKinds: Record<string, number>;
  /** Each request's answer time, ms. */
  answerMs: number[];
}

/**
 * Sends at a fixed rate whatever the answers (an open loop): one request every
 * 1/rate s, so a slow server meets the load it would meet in production.
 */
async function sendAtRate(options: LoadOptions): Promise<LoadOutcome> {
  const total = options.perSecond * options.seconds;
  const spacingMs = 1000 / options.perSecond;
  const dispatcher = new Agent({ connections: CONNECTIONS });
  const answers: Array<Promise<{ error?: string; ms: number }>> = [];
  const started = performance.now();
  let sent = 0;
  let lastSentAt = started;
  while (sent < total) {
    const due = Math.min(
      total,
      Math.floor((performance.now() - started) / spacingMs) + 1,
    );
    for (; sent < due; sent++) {
      // Timed from when it was due, so a late send is not hidden (no coordinated omission).
      const sentAt = started + sent * spacingMs;
      lastSentAt = performance.now();
      answers.push(
        fetch(options.url, {
          method: 'POST',
          headers: { ...options.headers, 'X-Gitlab-Event-UUID': randomUUID() },
          body: options.body,
          dispatcher,
        }).then(
          async response => {
            await response.arrayBuffer();
            return {
              error:
                response.status === options.expectedStatus
                  ? undefined
                  : String(response.status),
              ms: performance.now() - sentAt,
            };
          },
          (error: Error & { cause?: { code?: string } }) => ({
            error: error.cause?.code ?? error.message,
            ms: performance.now() - sentAt,
          }),
        ),
      );
    }
    await sleep(1);
  }
  const outcomes = await Promise.all(answers);
  await dispatcher.close();
  const errorKinds: Record<string, number> = {};
  for (const { error } of outcomes) {
    if (error) errorKinds[error] = (errorKinds[error] ?? 0) + 1;
  }
  return {
    sent: total,
    sendingMs: lastSentAt - started,
    errors: outcomes.filter(outcome => outcome.error).length,
    errorKinds,
    answerMs: outcomes.map(outcome => outcome.ms),
  };
}

/** The worker's entry (bin/gitops-bench-load). */
export function runWorker(): void {
  sendAtRate(workerData as LoadOptions).then(
    outcome => parentPort?.postMessage({ outcome }),
    error => parentPort?.postMessage({ error: String(error) }),
  );
}

/**
 * Sends the load from a worker thread, so that its pace does not depend on how busy this
 * thread (the sandbox world's) is.
 */
export function sendAtRateInWorker(options: LoadOptions): Promise<LoadOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(
      resolvePackagePath('@backstage-gitops/bench', 'bin/gitops-bench-load'),
      { workerData: options },
    );
    worker.once(
      'message',
      (message: { outcome?: LoadOutcome; error?: string }) => {
        if (message.outcome) resolve(message.outcome);
        else reject(new Error(`The load generator failed: ${message.error}`));
        void worker.terminate();
      },
    );
    worker.once('error', reject);
  });
}
