import { KubeConfig } from '@kubernetes/client-node';
import type { AgentOptions } from 'node:https';
import {
  guardedLookup,
  literalHostRefusal,
  RefusedAddressError,
} from './addresses';
import { GitOpsCluster } from './types';

type CreateAgent = (cluster: unknown, options: AgentOptions) => unknown;

/**
 * A client-node configuration for one cluster, built in memory (no kubeconfig file).
 * With an address policy (`cluster.connect.api`), every agent client-node makes (API
 * calls, watches, `applyToHTTPSOptions`) resolves the host through a lookup that refuses
 * what the policy refuses, at connect time.
 */
export function kubeConfigFor(cluster: GitOpsCluster): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: cluster.name,
        server: cluster.url,
        caData: cluster.caData,
        skipTLSVerify: cluster.skipTLSVerify ?? false,
      },
    ],
    users: [{ name: `${cluster.name}-gitops`, token: cluster.auth.token }],
    contexts: [
      {
        name: cluster.name,
        cluster: cluster.name,
        user: `${cluster.name}-gitops`,
      },
    ],
    currentContext: cluster.name,
  });
  const policy = cluster.connect?.api;
  if (policy) {
    // `createAgent` is private in client-node's types; every request path goes through it.
    const target = kubeConfig as unknown as { createAgent: CreateAgent };
    const createAgent = target.createAgent.bind(kubeConfig);
    const lookup = guardedLookup(policy);
    target.createAgent = (clusterObject, options) => {
      const refusal = literalHostRefusal(new URL(cluster.url), policy);
      if (refusal) throw new RefusedAddressError(refusal);
      return createAgent(clusterObject, { ...options, lookup });
    };
  }
  return kubeConfig;
}
