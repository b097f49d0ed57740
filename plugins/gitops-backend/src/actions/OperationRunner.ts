import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import { randomUUID } from 'crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'express';
import { AuditStore } from '../database/AuditStore';
import { Held, LeaseLostError } from '../database/leases';
import {
  LeasedOperation,
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
 *
 * Fencing: every write of a run (its steps, its outcome) names the lease generation the
 * run took, and the audit entry is written only after the fenced outcome. A run whose
 * lease another instance adopted (this one stalled past it: a long GC pause, a blocked
 * event loop, a partition) stops at its next write or renewal, whichever comes first,
 * without touching the cluster again: the first patch comes after a fenced check of the
 * lease, each later one after a fenced step, and the waits abort on the lost renewal.
 */
export class OperationRunner {
  private readonly running = new Map<
    string,
    {
      run: Promise<Operation>;
      /** The lease the run writes under (its fence moves on if this instance re-takes it). */
      held: Held;
      lost: AbortController;
    }
  >();
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
    const leased = await this.options.operations.create(input, this.lease());
    this.launch(leased, context.request);
    return leased.operation;
  }

  /**
   * Takes over the operations left `pending` or `running` by an instance that stopped
   * or died (their lease ran out): those whose patch was made keep waiting for its
   * outcome, the others start over.
   */
  async adoptAbandoned(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const adopted = await this.options.operations.claimAbandoned(this.lease());
    for (const leased of adopted) {
      const { operation } = leased;
      const current = this.running.get(operation.id);
      if (current) {
        // This instance's own run, which stalled past its lease: it goes on, under the
        // lease just taken (the old one is spent).
        current.held.fence = leased.fence;
      } else {
        this.options.logger.info(
          `Resuming GitOps operation ${operation.id} (${
            operation.action
          } ${describeRef(operation.target)} on ${operation.cluster})`,
        );
        this.launch(leased);
      }
    }
  }

  /** The finished operation, once its background run is over (for tests and shutdown). */
  async settled(id: string): Promise<Operation | undefined> {
    return (await this.running.get(id)?.run) ?? this.options.operations.get(id);
  }

  /**
   * Stops waiting on cluster objects without finishing the operations: they stay
   * `running` for the next start to re-attach to.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    const held = this.held();
    await Promise.allSettled([...this.running.values()].map(r => r.run));
    clearInterval(this.renewal);
    // Another replica need not wait for the leases to run out.
    await this.options.operations.release(held, this.instanceId);
  }

  private lease() {
    return {
      owner: this.instanceId,
      until: new Date(Date.now() + this.leaseMs),
    };
  }

  private held(): Held[] {
    return [...this.running.values()].map(({ held }) => ({ ...held }));
  }

  /** Renews the leases of the runs; stops those another instance adopted meanwhile. */
  private async renew(): Promise<void> {
    const held = this.held();
    const kept = new Set(
      await this.options.operations.renew(held, this.lease()),
    );
    for (const { id, fence } of held) {
      const current = this.running.get(id);
      if (!kept.has(id) && current?.held.fence === fence) {
        current.lost.abort(
          new LeaseLostError(`Operation ${id} was adopted by another instance`),
        );
      }
    }
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
        // A lost lease is final: the adopter writes from now on.
        const final = error instanceof LeaseLostError;
        if (final || attempt >= 6 || this.abort.signal.aborted) throw error;
        this.options.logger.warn(
          `Could not ${what} (attempt ${attempt}, retrying): ${error}`,
        );
        await sleep(250 * 2 ** attempt);
      }
    }
  }

  private launch(leased: LeasedOperation, request?: Request) {
    const { operation } = leased;
    const held = { id: operation.id, fence: leased.fence };
    const lost = new AbortController();
    const run = this.run(held, operation, lost, request)
      .catch(error => {
        if (error instanceof LeaseLostError || lost.signal.aborted) {
          // Another instance adopted it while this one stalled: it finishes it.
          this.options.logger.warn(
            `GitOps operation ${operation.id} stopped here: ${
              (lost.signal.reason as Error | undefined)?.message ??
              error.message
            }`,
          );
        } else {
          // Its lease runs out and an instance adopts it where it stood.
          this.options.logger.warn(
            `GitOps operation ${operation.id} stopped and will be resumed: ${error}`,
          );
        }
        return operation;
      })
      .finally(() => {
        if (this.running.get(operation.id)?.held === held) {
          this.running.delete(operation.id);
        }
        if (this.running.size === 0) {
          clearInterval(this.renewal);
          this.renewal = undefined;
        }
      });
    this.running.set(operation.id, { run, held, lost });
    this.renewal ??= setInterval(() => {
      this.renew().catch(error =>
        this.options.logger.warn(
          `Renewing the GitOps operations' leases failed: ${error}`,
        ),
      );
    }, this.leaseMs / 3).unref();
  }

  private async run(
    held: Held,
    operation: Operation,
    lost: AbortController,
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
      operations.markRunning(held),
    );
    let error: Error | undefined;
    try {
      await this.perform(held, operation, lost.signal);
    } catch (caught) {
      error = caught as Error;
    }
    if (this.abort.signal.aborted) {
      // Shutting down: left running on purpose, to be re-attached.
      return operation;
    }
    if (lost.signal.aborted) throw lost.signal.reason;
    if (error instanceof LeaseLostError) throw error;
    // Fenced: the stale holder of an adopted operation records no outcome, and so
    // writes no audit entry either.
    const finished = await this.persist('record the outcome', () =>
      operations.finish(held, {
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

  private async perform(
    held: Held,
    operation: Operation,
    lost: AbortSignal,
  ): Promise<void> {
    const actions = await this.options.actionsFor(operation.cluster);
    // Still this instance's (and for a whole lease from now) before the first patch;
    // each later patch follows a fenced step.
    const kept = await this.persist('check the lease', () =>
      this.options.operations.renew([held], this.lease()),
    );
    if (kept.length === 0) {
      throw new LeaseLostError(
        `Operation ${held.id} was adopted by another instance`,
      );
    }
    const options = {
      timeoutMs: this.options.timeoutMs,
      signal: AbortSignal.any([this.abort.signal, lost]),
      // Steps recorded by an interrupted run: what was already requested is not redone.
      resumeFrom: operation.steps,
      onStep: (step: OperationStep) =>
        this.persist('record a step', () =>
          this.options.operations.appendStep(held, step),
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
