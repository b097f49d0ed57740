import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import { randomUUID } from 'crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'express';
import { AuditStore } from '../database/AuditStore';
import {
  Operation,
  OperationInput,
  OperationStore,
} from '../database/OperationStore';
import { FluxActions, OperationStep } from './FluxActions';
import { describeRef } from './fluxKinds';

/**
 * Runs Flux actions as persisted operations: `start` answers at once with the stored
 * operation (for a 202) and runs it in the background, recording every step. Each
 * operation is leased to this instance while it runs (renewed every third of the
 * lease); `adoptAbandoned`, at startup and then periodically, finishes those whose
 * instance stopped or died, whichever replica of the backend that was.
 */
export class OperationRunner {
  private readonly running = new Map<string, Promise<Operation>>();
  private readonly abort = new AbortController();
  private readonly instanceId: string;
  private readonly leaseMs: number;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      operations: OperationStore;
      audit: AuditStore;
      /** The actions for a cluster by name; throws `NotFoundError` for an unknown one. */
      actionsFor: (cluster: string) => Promise<FluxActions>;
      logger: LoggerService;
      /** Backstage's auditor (`coreServices.auditor`), told about every action too. */
      auditor?: AuditorService;
      /** Bound on each action. Default 5 minutes. */
      timeoutMs?: number;
      /** Identifies this backend instance among replicas. Default: a random id. */
      instanceId?: string;
      /** How long an operation stays this instance's without renewal. Default 60 s. */
      leaseMs?: number;
    },
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  /** Stores the operation as `pending` and runs it in the background. */
  async start(
    input: OperationInput,
    context: { request?: Request } = {},
  ): Promise<Operation> {
    const operation = await this.options.operations.create(input, this.lease());
    this.launch(operation, context.request);
    return operation;
  }

  /**
   * Takes over the operations left `pending` or `running` by an instance that stopped
   * or died (their lease ran out): those whose patch was made keep waiting for its
   * outcome, the others start over.
   */
  async adoptAbandoned(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const adopted = await this.options.operations.claimAbandoned(this.lease());
    for (const operation of adopted) {
      if (!this.running.has(operation.id)) {
        this.options.logger.info(
          `Resuming GitOps operation ${operation.id} (${
            operation.action
          } ${describeRef(operation.target)} on ${operation.cluster})`,
        );
        this.launch(operation);
      }
    }
  }

  /** The finished operation, once its background run is over (for tests and shutdown). */
  async settled(id: string): Promise<Operation | undefined> {
    return (await this.running.get(id)) ?? this.options.operations.get(id);
  }

  /**
   * Stops waiting on cluster objects without finishing the operations: they stay
   * `running` for the next start to re-attach to.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    const ids = [...this.running.keys()];
    await Promise.allSettled(this.running.values());
    clearInterval(this.renewal);
    // Another replica need not wait for the leases to run out.
    await this.options.operations.release(ids, this.instanceId);
  }

  private lease() {
    return {
      owner: this.instanceId,
      until: new Date(Date.now() + this.leaseMs),
    };
  }

  /**
   * Runs a database write again while the database is away (a restart takes seconds):
   * six attempts over about 15 s, so an operation is not failed, nor its outcome lost,
   * because PostgreSQL restarted under it.
   */
  private async persist<T>(what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt >= 6 || this.abort.signal.aborted) throw error;
        this.options.logger.warn(
          `Could not ${what} (attempt ${attempt}, retrying): ${error}`,
        );
        await sleep(250 * 2 ** attempt);
      }
    }
  }

  private launch(operation: Operation, request?: Request) {
    const run = this.run(operation, request)
      .catch(error => {
        // Its lease runs out and an instance adopts it where it stood.
        this.options.logger.warn(
          `GitOps operation ${operation.id} stopped and will be resumed: ${error}`,
        );
        return operation;
      })
      .finally(() => {
        this.running.delete(operation.id);
        if (this.running.size === 0) {
          clearInterval(this.renewal);
          this.renewal = undefined;
        }
      });
    this.running.set(operation.id, run);
    this.renewal ??= setInterval(() => {
      this.options.operations
        .renew([...this.running.keys()], this.lease())
        .catch(error =>
          this.options.logger.warn(
            `Renewing the GitOps operations' leases failed: ${error}`,
          ),
        );
    }, this.leaseMs / 3).unref();
  }

  private async run(
    operation: Operation,
    request?: Request,
  ): Promise<Operation> {
    const { operations, audit, auditor, logger } = this.options;
    const auditEvent = await auditor?.createEvent({
      eventId: 'flux-action',
      severityLevel: 'medium',
      request,
      meta: {
        operationId: operation.id,
        action: operation.action,
        entityRef: operation.entityRef,
        cluster: operation.cluster,
        object: describeRef(operation.target),
        requestedBy: operation.requestedBy,
      },
    });
    await this.persist('mark the operation running', () =>
      operations.markRunning(operation.id),
    );
    let error: Error | undefined;
    try {
      await this.perform(operation);
    } catch (caught) {
      error = caught as Error;
    }
    if (this.abort.signal.aborted) {
      // Shutting down: left running on purpose, to be re-attached.
      return operation;
    }
    const finished = await this.persist('record the outcome', () =>
      operations.finish(operation.id, {
        status: error ? 'failed' : 'succeeded',
        error: error?.message,
      }),
    );
    await this.persist('write the audit entry', () =>
      audit.record({
        actor: finished.requestedBy,
        entityRef: finished.entityRef,
        cluster: finished.cluster,
        target: finished.target,
        action: finished.action,
        outcome: finished.status === 'succeeded' ? 'succeeded' : 'failed',
        message: error?.message,
        operationId: finished.id,
        at: finished.createdAt,
        durationMs: finished.durationMs ?? 0,
      }),
    );
    if (error) {
      logger.info(
        `GitOps ${finished.action} of ${describeRef(finished.target)} on ${
          finished.cluster
        } failed: ${error.message}`,
      );
      await auditEvent?.fail({ error });
    } else {
      await auditEvent?.success();
    }
    return finished;
  }

  private async perform(operation: Operation): Promise<void> {
    const actions = await this.options.actionsFor(operation.cluster);
    const options = {
      timeoutMs: this.options.timeoutMs,
      signal: this.abort.signal,
      // Steps recorded by an interrupted run: what was already requested is not redone.
      resumeFrom: operation.steps,
      onStep: (step: OperationStep) =>
        this.persist('record a step', () =>
          this.options.operations.appendStep(operation.id, step),
        ),
    };
    switch (operation.action) {
      case 'reconcile':
        await actions.reconcile(operation.target, {
          ...options,
          withSource: operation.withSource,
        });
        return;
      case 'suspend':
        await actions.suspend(operation.target, options);
        return;
      case 'resume':
        await actions.resume(operation.target, options);
        return;
      default:
        throw new Error(`Unknown action ${operation.action satisfies never}`);
    }
  }
}
