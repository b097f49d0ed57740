import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { z } from 'zod';
import { GitOpsClusterSettings } from './types';

/** `/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy`, without a trailing slash. */
const SERVICE_PROXY_PATH =
  /^\/api\/v1\/namespaces\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/services\/[^/]+\/proxy$/;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const DEFAULT_FLUX_NAMESPACE = 'flux-system';

function trimSlash(path: string): string {
  return path.replace(/\/+$/, '');
}

/**
 * Why a receiver URL is refused, or undefined when it is acceptable: an http(s) URL, or
 * a service-proxy path (which sends webhooks through the API server with the cluster's
 * own credentials, so an administrator must trust it explicitly).
 */
export function receiverUrlProblem(
  receiverUrl: string,
  trustedServiceProxyPaths: string[],
): string | undefined {
  if (receiverUrl.startsWith('/')) {
    const path = trimSlash(receiverUrl);
    if (!SERVICE_PROXY_PATH.test(path)) {
      return `"${receiverUrl}" is neither an http(s) URL nor a service-proxy path /api/v1/namespaces/{namespace}/services/{service}/proxy`;
    }
    if (!trustedServiceProxyPaths.map(trimSlash).includes(path)) {
      return `"${receiverUrl}" is a service-proxy path, which reaches the receiver with the cluster's credentials; list it in trustedServiceProxyPaths to allow it`;
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(receiverUrl);
  } catch {
    return `"${receiverUrl}" is not a valid URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `"${receiverUrl}" must use http or https`;
  }
  if (url.username || url.password) {
    return 'the receiver URL must not contain credentials';
  }
  return undefined;
}

/** `resource:<namespace>/<name>` in lower case (entity refs compare case-insensitively). */
export function normalizeClusterEntityRef(ref: string): string {
  return stringifyEntityRef(
    parseEntityRef(ref, {
      defaultKind: 'resource',
      defaultNamespace: 'default',
    }),
  ).toLocaleLowerCase('en-US');
}

const clusterEntrySchema = z
  .object({
    name: z.string().min(1),
    // A catalog cluster's Resource entity: binds the entry to it by its full ref.
    entityRef: z
      .string()
      .min(1)
      .transform((ref, ctx) => {
        try {
          return normalizeClusterEntityRef(ref);
        } catch (error) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `is not an entity ref: ${(error as Error).message}`,
          });
          return z.NEVER;
        }
      })
      .refine(ref => ref.startsWith('resource:'), {
        message: 'must name a Resource entity (resource:<namespace>/<name>)',
      })
      .optional(),
    fluxNamespace: z
      .string()
      .regex(DNS_LABEL, 'must be a Kubernetes namespace name')
      .optional(),
    receiverUrl: z.string().min(1).optional(),
    trustedServiceProxyPaths: z
      .array(
        z
          .string()
          .transform(trimSlash)
          .refine(path => SERVICE_PROXY_PATH.test(path), {
            message:
              'must be a service-proxy path /api/v1/namespaces/{namespace}/services/{service}/proxy',
          }),
      )
      .optional(),
    serviceAccountToken: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    const problem =
      entry.receiverUrl &&
      receiverUrlProblem(
        entry.receiverUrl,
        entry.trustedServiceProxyPaths ?? [],
      );
    if (problem) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['receiverUrl'],
        message: problem,
      });
    }
  });

const gitopsConfigSchema = z.object({
  clusters: z
    .array(clusterEntrySchema)
    .optional()
    .superRefine((entries, ctx) => {
      const seen = new Set<string>();
      const refs = new Set<string>();
      entries?.forEach((entry, index) => {
        if (seen.has(entry.name)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [index, 'name'],
            message: `duplicate cluster "${entry.name}"`,
          });
        }
        seen.add(entry.name);
        if (entry.entityRef && refs.has(entry.entityRef)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [index, 'entityRef'],
            message: `duplicate entity ${entry.entityRef}`,
          });
        }
        if (entry.entityRef) refs.add(entry.entityRef);
      });
    }),
  encryptionSecret: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. openssl rand -base64 32)')
    .optional(),
  registration: z
    .object({
      dangerouslyAllowHosts: z.array(z.string().min(1)).optional(),
    })
    .strict()
    .optional(),
});

/** One `gitops.clusters` entry, validated. */
export interface GitOpsClusterConfigEntry {
  /** The cluster name, as `gitops.clusters[].name` spells it. */
  name: string;
  /** Set: the entry belongs to this catalog entity only (see {@link entryForLocated}). */
  entityRef?: string;
  settings: GitOpsClusterSettings;
  /** For clusters whose locator carries no token (catalog clusters). */
  serviceAccountToken?: string;
}

export interface GitOpsConfig {
  clusters: Map<string, GitOpsClusterConfigEntry>;
  encryptionSecret?: string;
  /** Loopback or link-local hosts runtime registration may point at nonetheless. */
  registrationAllowedHosts: string[];
}

function formatPath(path: (string | number)[]): string {
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${part}`,
    )
    .join('');
}

/** Reads and validates `gitops.clusters`, `gitops.encryptionSecret` and `gitops.registration`; errors name the key. */
export function readGitOpsConfig(config: Config): GitOpsConfig {
  const parsed = gitopsConfigSchema.safeParse({
    clusters: config.getOptional('gitops.clusters'),
    encryptionSecret: config.getOptional('gitops.encryptionSecret'),
    registration: config.getOptional('gitops.registration'),
  });
  if (!parsed.success) {
    const details = parsed.error.issues
      .map(
        issue => `${formatPath(['gitops', ...issue.path])}: ${issue.message}`,
      )
      .join('; ');
    throw new Error(`Invalid GitOps configuration: ${details}`);
  }
  const clusters = new Map<string, GitOpsClusterConfigEntry>();
  for (const entry of parsed.data.clusters ?? []) {
    clusters.set(entry.name, {
      name: entry.name,
      ...(entry.entityRef ? { entityRef: entry.entityRef } : {}),
      settings: {
        fluxNamespace: entry.fluxNamespace ?? DEFAULT_FLUX_NAMESPACE,
        ...(entry.receiverUrl ? { receiverUrl: entry.receiverUrl } : {}),
        trustedServiceProxyPaths: entry.trustedServiceProxyPaths ?? [],
      },
      ...(entry.serviceAccountToken
        ? { serviceAccountToken: entry.serviceAccountToken }
        : {}),
    });
  }
  return {
    clusters,
    encryptionSecret: parsed.data.encryptionSecret,
    registrationAllowedHosts:
      parsed.data.registration?.dangerouslyAllowHosts ?? [],
  };
}

/**
 * The `gitops.clusters` entry of a cluster, which may hold its token:
 * - a catalog cluster gets the entry whose `entityRef` is its entity's ref; without one,
 *   for compatibility, the entry of its name that has no `entityRef`, but only when its
 *   entity is `resource:default/<name>`. A Resource of that name in another namespace
 *   gets nothing (no token, so it is skipped), whatever its name.
 * - a cluster of the configuration or the API gets the entry of its name, unless that
 *   entry names an entity (it is a catalog cluster's).
 */
export function entryForLocated(
  entries: Map<string, GitOpsClusterConfigEntry>,
  cluster: { name: string; entityRef?: string },
): GitOpsClusterConfigEntry | undefined {
  if (cluster.entityRef === undefined) {
    const entry = entries.get(cluster.name);
    return entry?.entityRef ? undefined : entry;
  }
  for (const entry of entries.values()) {
    if (entry.entityRef === cluster.entityRef) return entry;
  }
  const byName = entries.get(cluster.name);
  return byName &&
    !byName.entityRef &&
    cluster.entityRef ===
      normalizeClusterEntityRef(`resource:default/${cluster.name}`)
    ? byName
    : undefined;
}

/** The settings of a cluster that `gitops.clusters` does not mention. */
export function defaultSettings(): GitOpsClusterSettings {
  return {
    fluxNamespace: DEFAULT_FLUX_NAMESPACE,
    trustedServiceProxyPaths: [],
  };
}
