import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  ConflictError,
  CustomErrorBase,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredBackoff } from '../service/backoff';
import { describeRef, FluxObject, FluxObjectRef, fluxKinds } from './fluxKinds';

const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';
const FORCE_AT = 'reconcile.fluxcd.io/forceAt';
const RESET_AT = 'reconcile.fluxcd.io/resetAt';

import type { OperationStep } from '@backstage-gitops/plugin-gitops-common';

export type { OperationStep };

export type StepListener = (step: OperationStep) => void | Promise<void>;

export interface WaitOptions {
  /** Bound on the whole action, source included. Default 5 minutes. */
  timeoutMs?: number;
  onStep?: StepListener;
  /** Steps of an interrupted earlier run: objects already requested are waited on, not patched again. */
  resumeFrom?: OperationStep[];
  signal?: AbortSignal;
}

export interface ReconcileOptions extends WaitOptions {
  /** Reconcile the object's source first, as `flux reconcile --with-source`. */
  withSource?: boolean;
  /** HelmRelease only: `reconcile.fluxcd.io/forceAt` (one-off forced upgrade). */
  force?: boolean;
  /** HelmRelease only: `reconcile.fluxcd.io/resetAt` (reset the retry counts). */
  reset?: boolean;
}

export interface ResumeOptions extends WaitOptions {
  /** Wait for the object to be reconciled and Ready, as `flux resume` does. Default true. */
  wait?: boolean;
}

/** A Flux action that ran and did not end Ready: Ready=False, stalled, or timed out. */
export class FluxActionFailedError extends CustomErrorBase {
  name = 'FluxActionFailedError' as const;
}

/** A 409 from the API server, retried before it surfaces as a `ConflictError`. */
class KubeConflict extends Error {}

/** A 429, a 5xx or no answer at all: retried with backoff before it surfaces. */
class KubeUnavailable extends Error {}

const TRANSIENT_CODES = new Set([429, 500, 502, 503, 504]);

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/** `flux reconcile`, `flux suspend` and `flux resume` for every Flux kind, on one cluster. */
export class FluxActions {
  private readonly api: CustomObjectsApi;
  private readonly pollIntervalMs: number;
  private readonly conflictRetries: number;

  constructor(
    private readonly options: {
      kubeConfig: KubeConfig;
      /** The served version of an API group on this cluster, e.g. `v1`. */
      versionOf: (group: string) => string;
      /** Default 500 ms. */
      pollIntervalMs?: number;
      /** Default 5. */
      conflictRetries?: number;
      /** Retries of a request the API server failed (429, 5xx, unreachable). Default 4. */
      unavailableRetries?: number;
      /** The first retry's delay, doubled each time (with jitter). Default 250 ms. */
      retryBackoffMs?: number;
    },
  ) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.conflictRetries = options.conflictRetries ?? 5;
  }

  /**
   * Requests a reconciliation and waits for its outcome. Throws `ConflictError` when
   * suspended (nothing is patched), `FluxActionFailedError` when it does not end Ready.
   */
  async reconcile(
    target: FluxObjectRef,
    options: ReconcileOptions = {},
  ): Promise<FluxObject> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const object = await this.withRetry(() => this.get(target));
    refuseSuspended(target, object);
    const source = options.withSource
      ? fluxKinds[target.kind].sourceOf(object)
      : undefined;
    if (source) {
      await this.requestAndWait(source, {}, deadline, options);
    }
    const extra: Record<string, boolean> = fluxKinds[target.kind].forceAndReset
      ? { [FORCE_AT]: !!options.force, [RESET_AT]: !!options.reset }
      : {};
    return this.requestAndWait(
      target,
      { annotations: extra },
      deadline,
      options,
    );
  }

  /**
   * Annotates `reconcile.fluxcd.io/requestedAt` and returns without waiting, as the
   * Flux notification-controller's receiver does. Throws `ConflictError` when suspended.
   */
  async requestReconcile(target: FluxObjectRef): Promise<OperationStep> {
    return this.request(target, {}, {});
  }

  /** `flux suspend`: merge-patches `spec.suspend: true`. */
  async suspend(
    target: FluxObjectRef,
    options: { onStep?: StepListener } = {},
  ): Promise<void> {
    await this.withRetry(() => this.patch(target, { spec: { suspend: true } }));
    await options.onStep?.(step('suspended', target));
  }

  /**
   * `flux resume`: unsuspends and requests a reconciliation in one patch, then (by
   * default) waits for it like `reconcile`.
   */
  async resume(
    target: FluxObjectRef,
    options: ResumeOptions = {},
  ): Promise<FluxObject | undefined> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const change = { spec: { suspend: false }, annotations: {} };
    if (options.wait === false) {
      await this.request(target, change, options);
      return undefined;
    }
    return this.requestAndWait(target, change, deadline, options);
  }

  private async requestAndWait(
    ref: FluxObjectRef,
    change: PatchChange,
    deadline: number,
    options: WaitOptions,
  ): Promise<FluxObject> {
    const earlier = (options.resumeFrom ?? []).filter(s =>
      sameRef(s.object, ref),
    );
    if (earlier.some(s => s.type === 'ready')) {
      return this.withRetry(() => this.get(ref));
    }
    const requested =
      earlier.find(s => s.type === 'requested') ??
      (await this.request(ref, change, options));
    return this.waitForOutcome(
      ref,
      requested.previousHandledAt,
      deadline,
      options,
    );
  }

  private async request(
    ref: FluxObjectRef,
    change: PatchChange,
    options: WaitOptions,
  ): Promise<OperationStep> {
    const requested = await this.withRetry(async () => {
      const object = await this.get(ref);
      if (!change.spec) refuseSuspended(ref, object);
      const requestedAt = rfc3339NanoNow();
      const annotations: Record<string, string> = {
        [REQUESTED_AT]: requestedAt,
      };
      for (const [key, wanted] of Object.entries(change.annotations ?? {})) {
        if (wanted) annotations[key] = requestedAt;
      }
      // The resourceVersion makes the patch fail with 409 if the object changed since
      // the GET (e.g. it was suspended meanwhile); the retry then reads it again.
      await this.patch(ref, {
        metadata: {
          resourceVersion: object.metadata.resourceVersion,
          annotations,
        },
        ...(change.spec ? { spec: change.spec } : {}),
      });
      return step('requested', ref, {
        requestedAt,
        previousHandledAt: object.status?.lastHandledReconcileAt,
      });
    });
    await options.onStep?.(requested);
    return requested;
  }

  private async waitForOutcome(
    ref: FluxObjectRef,
    previousHandledAt: string | undefined,
    deadline: number,
    options: WaitOptions,
  ): Promise<FluxObject> {
    let reason = 'the request has not been handled yet';
    for (;;) {
      options.signal?.throwIfAborted();
      let object: FluxObject | undefined;
      try {
        object = await this.get(ref);
      } catch (error) {
        // A missing object ends the wait; a flaky API server only delays it.
        if (error instanceof NotFoundError || error instanceof NotAllowedError)
          throw error;
        reason = (error as Error).message;
      }
      if (object) {
        const outcome = outcomeOf(object, previousHandledAt);
        if (outcome.done) {
          if (!outcome.ok) {
            await this.fail(ref, outcome.message, options);
          }
          await this.reportRevisions(ref, object, options);
          await options.onStep?.(
            step('ready', ref, { message: outcome.message }),
          );
          return object;
        }
        reason = outcome.message;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        await this.fail(
          ref,
          `timed out waiting for ${describeRef(
            ref,
          )} to be reconciled: ${reason}`,
          options,
        );
      }
      await sleep(Math.min(this.pollIntervalMs, left), undefined, {
        signal: options.signal,
      });
    }
  }

  private async reportRevisions(
    ref: FluxObjectRef,
    object: FluxObject,
    options: WaitOptions,
  ) {
    const status = object.status ?? {};
    if (status.artifact?.revision) {
      await options.onStep?.(
        step('fetched', ref, { revision: status.artifact.revision }),
      );
    }
    const applied = status.lastAppliedRevision;
    if (applied) {
      await options.onStep?.(step('applied', ref, { revision: applied }));
    }
  }

  private async fail(
    ref: FluxObjectRef,
    message: string,
    options: WaitOptions,
  ): Promise<never> {
    await options.onStep?.(step('failed', ref, { message }));
    throw new FluxActionFailedError(message);
  }

  /**
   * Runs `attempt` (a GET and PATCH, or a PATCH) again after a 409, and after a failure
   * of the API server with a bounded, jittered exponential backoff.
   */
  private async withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    let conflicts = 0;
    let failures = 0;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof KubeConflict && conflicts < this.conflictRetries) {
          await sleep(50 * 2 ** conflicts++);
          continue;
        }
        const unavailableRetries = this.options.unavailableRetries ?? 4;
        if (error instanceof KubeUnavailable && failures < unavailableRetries) {
          await sleep(
            jitteredBackoff(failures++, {
              initialMs: this.options.retryBackoffMs ?? 250,
            }),
          );
          continue;
        }
        throw error instanceof KubeConflict
          ? new ConflictError(error.message)
          : error;
      }
    }
  }

  private async get(ref: FluxObjectRef): Promise<FluxObject> {
    try {
      return (await this.api.getNamespacedCustomObject(
        this.path(ref),
      )) as FluxObject;
    } catch (error) {
      throw kubeError(ref, error);
    }
  }

  private async patch(ref: FluxObjectRef, body: object): Promise<void> {
    try {
      await this.api.patchNamespacedCustomObject(
        { ...this.path(ref), body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      throw kubeError(ref, error);
    }
  }

  private path(ref: FluxObjectRef) {
    const { group, plural } = fluxKinds[ref.kind];
    return {
      group,
      version: this.options.versionOf(group),
      plural,
      namespace: ref.namespace,
      name: ref.name,
    };
  }
}

interface PatchChange {
  spec?: Record<string, unknown>;
  /** Annotations set to the same value as `requestedAt` when true. */
  annotations?: Record<string, boolean>;
}

type Outcome =
  | { done: false; message: string }
  | { done: true; ok: boolean; message: string };

/**
 * Whether the request was handled and how it ended: `lastHandledReconcileAt` moved and
 * kstatus is Current, then Ready decides. Flux keeps `Reconciling=True` (reason
 * ProgressingWithRetry) after a failure, so that with Ready=False is an outcome too.
 */
export function outcomeOf(
  object: FluxObject,
  previousHandledAt: string | undefined,
): Outcome {
  const status = object.status ?? {};
  const condition = (type: string) =>
    status.conditions?.find(c => c.type === type);
  const handled = status.lastHandledReconcileAt;
  if (!handled || handled === previousHandledAt) {
    return { done: false, message: 'the request has not been handled yet' };
  }
  const ready = condition('Ready');
  const reconciling = condition('Reconciling');
  const stalled = condition('Stalled');
  if (stalled?.status === 'True') {
    return { done: true, ok: false, message: stalled.message || 'stalled' };
  }
  if (
    ready?.status === 'False' &&
    reconciling?.status === 'True' &&
    reconciling.reason === 'ProgressingWithRetry'
  ) {
    return { done: true, ok: false, message: ready.message || 'not ready' };
  }
  const observed = status.observedGeneration;
  if (
    typeof observed === 'number' &&
    object.metadata.generation !== undefined &&
    observed !== object.metadata.generation
  ) {
    return { done: false, message: 'the new generation is not observed yet' };
  }
  if (reconciling?.status === 'True') {
    return { done: false, message: reconciling.message || 'reconciling' };
  }
  if (ready?.status === 'True' || ready?.status === 'False') {
    return {
      done: true,
      ok: ready.status === 'True',
      message: ready.message || ready.reason || '',
    };
  }
  return { done: false, message: 'Ready is unknown' };
}

function refuseSuspended(ref: FluxObjectRef, object: FluxObject) {
  if (object.spec?.suspend) {
    throw new ConflictError(`${describeRef(ref)}: resource is suspended`);
  }
}

function sameRef(a: FluxObjectRef, b: FluxObjectRef) {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

function step(
  type: OperationStep['type'],
  object: FluxObjectRef,
  extra: Partial<OperationStep> = {},
): OperationStep {
  const result: OperationStep = { type, at: new Date().toISOString(), object };
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined && value !== '') {
      (result as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return result;
}

/** Go's RFC3339Nano (trailing zeros trimmed), as the flux CLI writes `requestedAt`. */
export function rfc3339NanoNow(): string {
  const iso = new Date().toISOString();
  const subMillis = (process.hrtime.bigint() % 1_000_000n)
    .toString()
    .padStart(6, '0');
  const fraction = `${iso.slice(20, 23)}${subMillis}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

function kubeError(ref: FluxObjectRef, error: unknown): Error {
  if (!(error instanceof ApiException)) {
    // No HTTP answer (refused, reset, timed out): the API server may be back soon.
    return new KubeUnavailable(
      `Kubernetes API unreachable for ${describeRef(ref)}: ${
        (error as Error)?.message ?? String(error)
      }`,
    );
  }
  const message = statusMessage(error) ?? `HTTP ${error.code}`;
  if (TRANSIENT_CODES.has(error.code)) {
    return new KubeUnavailable(
      `Kubernetes API answered ${error.code} for ${describeRef(
        ref,
      )}: ${message}`,
    );
  }
  switch (error.code) {
    case 404:
      return new NotFoundError(`${describeRef(ref)} not found`);
    case 403:
      return new NotAllowedError(message);
    case 409:
      return new KubeConflict(message);
    default:
      return new Error(
        `Kubernetes API answered ${error.code} for ${describeRef(
          ref,
        )}: ${message}`,
      );
  }
}

/** The `message` of the Kubernetes `Status` body, if there is one. */
function statusMessage(error: ApiException<unknown>): string | undefined {
  const body = error.body;
  try {
    const parsed = typeof body === 'string' ? JSON.parse(body) : body;
    return typeof parsed?.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
