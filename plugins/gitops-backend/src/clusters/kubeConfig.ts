import { KubeConfig } from '@kubernetes/client-node';
import { GitOpsCluster } from './types';

/** A client-node configuration for one cluster, built in memory (no kubeconfig file). */
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
  return kubeConfig;
}
