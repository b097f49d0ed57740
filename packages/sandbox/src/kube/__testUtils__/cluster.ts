import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';
import { CLUSTER_ADMIN_RULES } from '../authorization';
import {
  startKubeApiServer,
  type KubeApiServer,
  type KubeApiServerOptions,
} from '../server';
import type { KubeStatus } from '../status';

export const ADMIN_TOKEN = 'admin-token';

export function kubeConfigFor(url: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'sandbox', server: url, skipTLSVerify: true }],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'sandbox', cluster: 'sandbox', user: 'user' }],
    currentContext: 'sandbox',
  });
  return kc;
}

export interface TestCluster {
  server: KubeApiServer;
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

/** A server with an admin token, and clients logged in with it. */
export async function startTestCluster(
  options: KubeApiServerOptions = {},
): Promise<TestCluster> {
  const server = await startKubeApiServer({
    ...options,
    tokens: {
      [ADMIN_TOKEN]: { user: 'admin', rules: CLUSTER_ADMIN_RULES },
      ...options.tokens,
    },
  });
  const kc = kubeConfigFor(server.url, ADMIN_TOKEN);
  return {
    server,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** Awaits a failing client call and returns the Status the server answered with. */
export async function statusOf(call: Promise<unknown>): Promise<KubeStatus> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) {
      // For some codes (401) the generated clients drop the body and keep only the code.
      const body = (error as ApiException<unknown>).body;
      const status = (
        typeof body === 'string' ? JSON.parse(body) : body ?? {}
      ) as KubeStatus;
      return { ...status, code: status.code ?? error.code };
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}
