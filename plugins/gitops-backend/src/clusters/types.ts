import { AddressPolicy } from './addresses';

/**
 * A cluster the GitOps backend works with, from the Kubernetes plugin's configuration
 * (`kubernetes.clusterLocatorMethods`), the catalog, or registered through the API.
 */
export interface GitOpsCluster {
  name: string;
  /** The Kubernetes API server URL. */
  url: string;
  source: 'config' | 'catalog' | 'api';
  /** Base64 PEM of the API server's CA (kubeconfig `certificate-authority-data`). */
  caData?: string;
  skipTLSVerify?: boolean;
  /** Only `serviceAccount` (a bearer token) is supported. Never logged, never returned by the API. */
  auth: { type: 'serviceAccount'; token: string };
  /** Per-cluster GitOps settings (`gitops.clusters`). */
  settings: GitOpsClusterSettings;
  /**
   * Addresses the API server and the receiver may not resolve to when connected to
   * (absent: any, as for clusters written in the configuration).
   */
  connect?: { api?: AddressPolicy; receiver?: AddressPolicy };
}

export interface GitOpsClusterSettings {
  /** Namespace Flux runs in (default `flux-system`). */
  fluxNamespace: string;
  /**
   * Base URL of Flux's webhook receiver: absent means the in-cluster default
   * `http://webhook-receiver.<fluxNamespace>.svc.cluster.local`; a path
   * `/api/v1/namespaces/{ns}/services/{svc}/proxy` goes through the API server with the
   * cluster's credentials and must be listed in `trustedServiceProxyPaths`.
   */
  receiverUrl?: string;
  trustedServiceProxyPaths: string[];
}
