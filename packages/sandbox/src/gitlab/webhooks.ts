import type { Clock } from './clock';
import { uuid } from './secrets';
import type { ProjectHook } from './state';

/** One attempt to deliver an event to a project hook, as recorded for tests and fault checks. */
export interface HookDelivery {
  hookId: number;
  projectId: number;
  url: string;
  /** `X-Gitlab-Event`: `Push Hook` or `Tag Push Hook`. */
  event: string;
  eventUuid: string;
  idempotencyKey: string;
  /** The ref the event is about. */
  ref: string;
  deliveredAt: Date;
  /** The HTTP status the endpoint answered, if it answered. */
  statusCode?: number;
  /** Why there was no answer (refused, timed out, blocked). */
  error?: string;
  durationMs: number;
  payload: unknown;
}

/** GitLab gives a hook endpoint 10 seconds by default. */
const TIMEOUT_MS = 10_000;

/** The sandbox must never reach out beyond the machine, whatever a hook's URL says. */
function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

/** Sends webhook requests like GitLab does and keeps a record of every delivery. */
export class Webhooks {
  readonly #deliveries: HookDelivery[] = [];
  readonly #pending = new Set<Promise<unknown>>();

  constructor(
    private readonly clock: Clock,
    private readonly version: string,
    private readonly instanceUrl: () => string,
  ) {}

  get deliveries(): readonly HookDelivery[] {
    return this.#deliveries;
  }

  /** Keeps background work (event processing, deliveries) visible to `settled`. */
  track(work: Promise<unknown>): void {
    const tracked = work.catch(error => {
      process.emitWarning(`Webhook processing failed: ${error}`);
    });
    this.#pending.add(tracked);
    tracked.finally(() => this.#pending.delete(tracked));
  }

  /** Resolves once every event and delivery started so far (and what they started) is done. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) {
      await Promise.all([...this.#pending]);
    }
  }

  /** POSTs the event to the hook; a failing endpoint is recorded, never thrown. */
  async execute(
    hook: ProjectHook,
    event: string,
    eventUuid: string,
    ref: string,
    payload: unknown,
  ): Promise<HookDelivery> {
    const delivery: HookDelivery = {
      hookId: hook.id,
      projectId: hook.projectId,
      url: hook.url,
      event,
      eventUuid,
      idempotencyKey: uuid(),
      ref,
      deliveredAt: this.clock.now(),
      durationMs: 0,
      payload,
    };
    const started = performance.now();
    try {
      const url = new URL(hook.url);
      if (!isLoopback(url)) {
        throw new Error(
          `URL is blocked: the sandbox only reaches loopback hosts (${url.host})`,
        );
      }
      const response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': `GitLab/${this.version}`,
          'X-Gitlab-Event': event,
          'X-Gitlab-Webhook-UUID': hook.uuid,
          'X-Gitlab-Event-UUID': eventUuid,
          'X-Gitlab-Instance': this.instanceUrl(),
          'Idempotency-Key': delivery.idempotencyKey,
          ...(hook.token ? { 'X-Gitlab-Token': hook.token } : {}),
        },
        body: JSON.stringify(payload),
      });
      await response.arrayBuffer();
      delivery.statusCode = response.status;
    } catch (error) {
      delivery.error = error instanceof Error ? error.message : String(error);
    }
    delivery.durationMs = performance.now() - started;
    this.#deliveries.push(delivery);
    return delivery;
  }
}
