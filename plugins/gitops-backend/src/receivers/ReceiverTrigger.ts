import { LoggerService } from '@backstage/backend-plugin-api';
import { stringifyError } from '@backstage/errors';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { FluxActions } from '../actions/FluxActions';
import {
  AddressPolicy,
  guardedLookup,
  literalHostRefusal,
} from '../clusters/addresses';
import { kubeConfigFor } from '../clusters/kubeConfig';
import { GitOpsCluster } from '../clusters/types';
import { ReceiverStore } from '../database/ReceiverStore';

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * `status.webhookPath` as notification-controller writes it (`Receiver.GetWebhookPath`):
 * `/hook/` and the hex sha256 of token, name and namespace. Anything else is not Flux's.
 */
const WEBHOOK_PATH = /^\/hook\/[0-9a-f]{64}$/;

/** Whether a value read from a Receiver's status is a webhook path Flux could have written. */
export function isFluxWebhookPath(value: unknown): value is string {
  return typeof value === 'string' && WEBHOOK_PATH.test(value);
}

export interface TriggerOutcome {
  result: NonNullable<ManagedReceiver['lastResult']>;
  message?: string;
}

/** The receiver base URL of a cluster: configured, or Flux's in-cluster default. */
export function receiverBaseUrl(cluster: GitOpsCluster): string {
  return (
    cluster.settings.receiverUrl ??
    `http://webhook-receiver.${cluster.settings.fluxNamespace}.svc.cluster.local`
  ).replace(/\/+$/, '');
}

/** Where a webhook goes: the URL, and whether through the API server (with its credentials). */
interface ReceiverTarget {
  url: URL;
  viaApiServer: boolean;
}

function withoutTrailingSlash(path: string): string {
  return path.replace(/\/+$/, '');
}

/**
 * The URL of a receiver's webhook, built with the URL API from the configured base and a
 * validated webhook path, then checked: same origin as the base, and below its path (the
 * service-proxy path, for a base through the API server). Throws when it is not.
 */
export function receiverTarget(
  cluster: GitOpsCluster,
  webhookPath: string,
): ReceiverTarget {
  if (!isFluxWebhookPath(webhookPath)) {
    throw new Error('the webhook path is not one Flux writes');
  }
  const base = receiverBaseUrl(cluster);
  const viaApiServer = base.startsWith('/');
  // A service-proxy path is below the API server's URL (which may have a path itself).
  const origin = new URL(cluster.url);
  const baseUrl = viaApiServer ? origin : new URL(base);
  const prefix = viaApiServer
    ? `${withoutTrailingSlash(origin.pathname)}${base}`
    : withoutTrailingSlash(baseUrl.pathname);
  const url = new URL(baseUrl.origin);
  url.pathname = `${prefix}${webhookPath}`;
  if (
    url.origin !== baseUrl.origin ||
    url.username ||
    url.password ||
    url.pathname !== `${prefix}${webhookPath}` ||
    !url.pathname.startsWith(`${prefix}/`)
  ) {
    throw new Error('the webhook URL leaves the configured receiver base URL');
  }
  return { url, viaApiServer };
}

/**
 * Calls a managed Receiver the way a Git host would (a POST to its webhook path), with
 * retries on 5xx and connection errors; when it still does not answer 200, falls back
 * to annotating `requestedAt` on the source, so a push is never dropped silently. A
 * service-proxy base URL goes through the cluster's API server with its credentials
 * (allowed only when trusted, see `gitops.clusters[].trustedServiceProxyPaths`).
 * Every outcome is recorded on the receiver.
 */
export class ReceiverTrigger {
  /** Receivers whose malformed webhook path was logged (once each). */
  private readonly malformed = new Set<string>();

  constructor(
    private readonly options: {
      clusterOf(name: string): GitOpsCluster | undefined;
      /** The Receiver's `status.webhookPath` (a capability: read when needed, never stored). */
      webhookPathOf(receiver: ManagedReceiver): string | undefined;
      actionsFor(cluster: GitOpsCluster): Pick<FluxActions, 'requestReconcile'>;
      store: Pick<ReceiverStore, 'recordTrigger'>;
      logger: LoggerService;
      /** Attempts at the receiver before the fallback. Default 3. */
      attempts?: number;
      /** First retry delay, doubled each time. Default 500 ms. */
      retryDelayMs?: number;
    },
  ) {}

  async trigger(receiver: ManagedReceiver): Promise<TriggerOutcome> {
    const outcome = await this.attempt(receiver);
    await this.options.store.recordTrigger(receiver, {
      at: new Date(),
      ...outcome,
    });
    const where = `Receiver ${receiver.namespace}/${receiver.name} on ${receiver.cluster}`;
    if (outcome.result === 'failed') {
      this.options.logger.warn(`${where} failed: ${outcome.message}`);
    } else {
      this.options.logger.info(
        `${where}: ${outcome.result}${
          outcome.message ? ` (${outcome.message})` : ''
        }`,
      );
    }
    return outcome;
  }

  private async attempt(receiver: ManagedReceiver): Promise<TriggerOutcome> {
    const cluster = this.options.clusterOf(receiver.cluster);
    if (!cluster) {
      return { result: 'failed', message: `no cluster ${receiver.cluster}` };
    }
    let problem = 'Flux has not reported its webhook path yet';
    const webhookPath = this.validWebhookPath(receiver);
    if (webhookPath) {
      const answer = await this.callReceiver(cluster, webhookPath);
      if (answer === 200) return { result: 'succeeded' };
      problem =
        typeof answer === 'number'
          ? `the receiver answered ${answer}`
          : `the receiver could not be reached: ${answer}`;
    }
    try {
      await this.options.actionsFor(cluster).requestReconcile({
        kind: receiver.source.kind,
        namespace: receiver.namespace,
        name: receiver.source.name,
      });
      return {
        result: 'fallback',
        message: `${problem}; requestedAt annotated`,
      };
    } catch (error) {
      return {
        result: 'failed',
        message: `${problem}; annotating requestedAt failed: ${stringifyError(
          error,
        )}`,
      };
    }
  }

  /**
   * The Receiver's webhook path when it has the form Flux writes; anything else (read
   * from the cluster, so untrusted) is ignored as no path, logged once per receiver
   * without the value (a path is a capability; a crafted one may be long or hostile).
   */
  private validWebhookPath(receiver: ManagedReceiver): string | undefined {
    const key = `${receiver.cluster}/${receiver.namespace}/${receiver.name}`;
    const value = this.options.webhookPathOf(receiver);
    if (value === undefined || isFluxWebhookPath(value)) {
      this.malformed.delete(key);
      return value;
    }
    if (!this.malformed.has(key)) {
      this.malformed.add(key);
      this.options.logger.warn(
        `Receiver ${receiver.namespace}/${receiver.name} on ${receiver.cluster} reports a webhook path that is not /hook/<sha256 hex>, as Flux writes it; ignored (the source's requestedAt is annotated instead)`,
      );
    }
    return undefined;
  }

  /** The status code of the last attempt, or the connection error's message. */
  private async callReceiver(
    cluster: GitOpsCluster,
    webhookPath: string,
  ): Promise<number | string> {
    const attempts = this.options.attempts ?? 3;
    const firstDelay = this.options.retryDelayMs ?? 500;
    let last: number | string = 'not attempted';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        last = await post(cluster, webhookPath);
        if (last < 500) return last;
      } catch (error) {
        last = stringifyError(error);
      }
      if (attempt < attempts) {
        await sleep(firstDelay * 2 ** (attempt - 1));
      }
    }
    return last;
  }
}

/**
 * POSTs an empty body; a service-proxy base goes to the API server with the cluster's
 * credentials. No redirect is followed (`http.request` does not), and the host is
 * resolved through the cluster's address policy when the connection is made.
 */
async function post(
  cluster: GitOpsCluster,
  webhookPath: string,
): Promise<number> {
  const { url, viaApiServer } = receiverTarget(cluster, webhookPath);
  const policy: AddressPolicy | undefined = viaApiServer
    ? cluster.connect?.api
    : cluster.connect?.receiver;
  const refusal = literalHostRefusal(url, policy);
  if (refusal) throw new Error(refusal);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { 'content-length': '0' },
    timeout: REQUEST_TIMEOUT_MS,
    ...(policy ? { lookup: guardedLookup(policy) } : {}),
  };
  if (viaApiServer) {
    const kubeConfig: KubeConfig = kubeConfigFor(cluster);
    await kubeConfig.applyToHTTPSOptions(options);
  }
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, options, response => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    request.on('error', reject);
    request.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
