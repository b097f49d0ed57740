import { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import { CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  ANNOTATION_KUBERNETES_API_SERVER,
  ANNOTATION_KUBERNETES_API_SERVER_CA,
  ANNOTATION_KUBERNETES_AUTH_PROVIDER,
  ANNOTATION_KUBERNETES_SKIP_TLS_VERIFY,
} from '@backstage/plugin-kubernetes-common';
import { readFileSync } from 'fs';
import {
  AddressPolicy,
  addressesOf,
  hostMatches,
  hostnameOf,
  isNonPublicAddress,
} from './addresses';

/** A cluster as a locator found it, before `gitops.clusters` settings are applied. */
export interface LocatedCluster {
  name: string;
  url: string;
  source: 'config' | 'catalog';
  caData?: string;
  skipTLSVerify: boolean;
  /** Absent when the locator carries none (then `gitops.clusters[].serviceAccountToken`). */
  token?: string;
  /**
   * A catalog cluster's entity, `resource:<namespace>/<name>` in lower case: what binds it
   * to its `gitops.clusters` entry (settings and token), never the name alone.
   */
  entityRef?: string;
  /** What the API server's host may not resolve to when connected to. */
  apiAddressPolicy?: AddressPolicy;
}

const SERVICE_ACCOUNT = 'serviceAccount';

/** `kubernetes.clusterLocatorMethods[].type: config`, as the Kubernetes plugin reads it. */
export function readConfigLocator(
  method: Config,
  logger: LoggerService,
): LocatedCluster[] {
  const located: LocatedCluster[] = [];
  for (const cluster of method.getOptionalConfigArray('clusters') ?? []) {
    const name = cluster.getString('name');
    const authMetadata = cluster.getOptionalConfig('authMetadata');
    const authProvider =
      authMetadata?.getOptionalString(ANNOTATION_KUBERNETES_AUTH_PROVIDER) ??
      cluster.getOptionalString('authProvider');
    if (authProvider !== SERVICE_ACCOUNT) {
      logger.warn(
        `GitOps skips Kubernetes cluster "${name}": auth provider "${authProvider}" is not supported, only ${SERVICE_ACCOUNT}`,
      );
      continue;
    }
    const caFile = cluster.getOptionalString('caFile');
    const caData =
      cluster.getOptionalString('caData') ??
      (caFile ? readFileSync(caFile).toString('base64') : undefined);
    const token =
      cluster.getOptionalString('serviceAccountToken') ??
      authMetadata?.getOptionalString('serviceAccountToken');
    located.push({
      name,
      url: cluster.getString('url'),
      source: 'config',
      ...(caData ? { caData } : {}),
      skipTLSVerify: cluster.getOptionalBoolean('skipTLSVerify') ?? false,
      ...(token ? { token } : {}),
    });
  }
  return located;
}

/**
 * The Kubernetes plugin's guard against catalog entities pointing the backend at
 * internal addresses: https and a public host, unless the host is listed in
 * `dangerouslyAllowClusterUrls`.
 */
async function validateCatalogApiServerUrl(
  apiServerUrl: string,
  allowedHosts: string[],
): Promise<void> {
  let url: URL;
  try {
    url = new URL(apiServerUrl);
  } catch {
    throw new Error('the API server URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error('the API server URL must use http or https');
  }
  if (url.username || url.password) {
    throw new Error('the API server URL must not contain credentials');
  }
  const hostname = hostnameOf(url);
  if (hostMatches(hostname, allowedHosts)) {
    return;
  }
  if (url.protocol !== 'https:') {
    throw new Error('the API server URL must use https');
  }
  const addresses = await addressesOf(hostname);
  if (addresses.some(isNonPublicAddress)) {
    throw new Error(
      `the API server host "${hostname}" is a non-public address (allow it with dangerouslyAllowClusterUrls)`,
    );
  }
}

/**
 * `kubernetes.clusterLocatorMethods[].type: catalog`: Resource entities of type
 * `kubernetes-cluster`, filtered as the Kubernetes plugin's CatalogClusterLocator does.
 * Tokens never come from the catalog.
 */
export async function readCatalogLocator(
  method: Config,
  deps: { catalog: CatalogService; auth: AuthService; logger: LoggerService },
): Promise<LocatedCluster[]> {
  const allowedHosts =
    method.getOptionalStringArray('dangerouslyAllowClusterUrls') ?? [];
  const allowSkipTLSVerify =
    method.getOptionalBoolean('dangerouslyAllowSkipTLSVerify') ?? false;
  const { items } = await deps.catalog.getEntities(
    {
      filter: {
        kind: 'Resource',
        'spec.type': 'kubernetes-cluster',
        [`metadata.annotations.${ANNOTATION_KUBERNETES_API_SERVER}`]:
          CATALOG_FILTER_EXISTS,
        [`metadata.annotations.${ANNOTATION_KUBERNETES_API_SERVER_CA}`]:
          CATALOG_FILTER_EXISTS,
        [`metadata.annotations.${ANNOTATION_KUBERNETES_AUTH_PROVIDER}`]:
          CATALOG_FILTER_EXISTS,
      },
    },
    { credentials: await deps.auth.getOwnServiceCredentials() },
  );
  const located: LocatedCluster[] = [];
  for (const entity of items) {
    const cluster = await toLocatedCluster(entity, {
      allowedHosts,
      allowSkipTLSVerify,
      logger: deps.logger,
    });
    if (cluster) {
      located.push(cluster);
    }
  }
  return located;
}

async function toLocatedCluster(
  entity: Entity,
  options: {
    allowedHosts: string[];
    allowSkipTLSVerify: boolean;
    logger: LoggerService;
  },
): Promise<LocatedCluster | undefined> {
  const name = entity.metadata.name;
  const ref = stringifyEntityRef(entity);
  const annotations = entity.metadata.annotations ?? {};
  const authProvider = annotations[ANNOTATION_KUBERNETES_AUTH_PROVIDER];
  if (authProvider !== SERVICE_ACCOUNT) {
    options.logger.warn(
      `GitOps skips catalog cluster ${ref}: auth provider "${authProvider}" is not supported, only ${SERVICE_ACCOUNT}`,
    );
    return undefined;
  }
  const url = annotations[ANNOTATION_KUBERNETES_API_SERVER];
  try {
    await validateCatalogApiServerUrl(url, options.allowedHosts);
  } catch (error) {
    options.logger.warn(
      `GitOps skips catalog cluster ${ref}: ${(error as Error).message}`,
    );
    return undefined;
  }
  return {
    name,
    url,
    source: 'catalog',
    entityRef: ref.toLocaleLowerCase('en-US'),
    // The check above holds at connect time too (a host name may be rebound).
    apiAddressPolicy: {
      refuse: 'non-public',
      allowedHosts: options.allowedHosts,
      allowKey:
        'kubernetes.clusterLocatorMethods[].dangerouslyAllowClusterUrls',
    },
    caData: annotations[ANNOTATION_KUBERNETES_API_SERVER_CA],
    skipTLSVerify:
      options.allowSkipTLSVerify &&
      annotations[ANNOTATION_KUBERNETES_SKIP_TLS_VERIFY] === 'true',
  };
}
