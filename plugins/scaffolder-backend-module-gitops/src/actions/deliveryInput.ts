import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { InputError, ResponseError } from '@backstage/errors';
import {
  FluxBootstrapRequest,
  FluxBootstrapResult,
} from '@backstage-gitops/plugin-gitops-common';
import { ScmIntegrationRegistry } from '@backstage/integration';
import {
  parseRepoUrl,
  type createTemplateAction,
} from '@backstage/plugin-scaffolder-node';
import { GitOpsBootstrapApi } from './GitOpsBootstrapApi';

/** The zod the scaffolder hands to per-field schemas (its own copy, not this package's). */
type ActionSchema = NonNullable<
  Parameters<typeof createTemplateAction>[0]['schema']
>['input'];
type Zod = Parameters<Extract<ActionSchema, (...args: any[]) => unknown>>[0];
/** One field's schema, as `createTemplateAction` takes it. */
export type FieldSchema = (zod: Zod) => InstanceType<Zod['ZodType']>;

/**
 * The inputs both actions take, one zod schema per field: what a template knows of the
 * new delivery repository. Everything else (clusters that exist, names that are free,
 * objects the clusters accept) the gitops backend checks.
 */
export const deliveryInput: Record<keyof DeliveryInput, FieldSchema> = {
  entityRef: (zod: Zod) =>
    zod
      .string()
      .min(1)
      .describe(
        'The catalog entity the repository delivers, e.g. component:default/my-service',
      ),
  owner: (zod: Zod) =>
    zod
      .string()
      .min(1)
      .describe(
        "The entity's owner (e.g. group:default/team-a): a dry run for an entity the catalog does not have yet is authorized, and placed in the owner's tenant namespace, as that entity would be",
      )
      .optional(),
  repoUrl: (zod: Zod) =>
    zod
      .string()
      .min(1)
      .describe(
        "The delivery repository: an https:// Git URL (e.g. publish:gitlab's remoteUrl) or an oci:// artifact URL",
      ),
  clusters: (zod: Zod) =>
    zod
      .array(zod.string().min(1))
      .min(1)
      .describe('The clusters to deploy to, by name'),
  path: (zod: Zod) =>
    zod
      .string()
      .default('deploy/{cluster}')
      .describe(
        "The path each cluster's Kustomization applies; {cluster} is replaced by its name",
      )
      .optional(),
  ref: (zod: Zod) =>
    zod
      .string()
      .describe(
        'The branch (Git, default main) or tag (OCI, default latest) to follow',
      )
      .optional(),
  name: (zod: Zod) =>
    zod
      .string()
      .describe(
        'Name of the Flux source and Kustomization (default: the repository name)',
      )
      .optional(),
  interval: (zod: Zod) =>
    zod.string().describe('Flux interval (default 10m)').optional(),
  insecure: (zod: Zod) =>
    zod
      .boolean()
      .describe('OCI only: the registry speaks plain HTTP')
      .optional(),
  credential: (zod: Zod) =>
    zod
      .boolean()
      .describe(
        'Create a read-only deploy token for the source (default: when the repository is on a configured GitLab)',
      )
      .optional(),
};

export interface DeliveryInput {
  entityRef: string;
  owner?: string;
  repoUrl: string;
  clusters: string[];
  path?: string;
  ref?: string;
  name?: string;
  interval?: string;
  insecure?: boolean;
  credential?: boolean;
}

/**
 * The repository's clone URL. A RepoUrlPicker value (`host?owner=…&repo=…`, what a
 * template has before publish:gitlab runs, and in a dry run) becomes the integration's
 * `<baseUrl>/<owner>/<repo>.git`, so Flux gets the URL the Git host serves.
 */
export function repositoryUrl(
  repoUrl: string,
  integrations: ScmIntegrationRegistry,
): string {
  if (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(repoUrl) ||
    /^[^@/\s]+@[^:]+:/.test(repoUrl)
  ) {
    return repoUrl;
  }
  const { host, owner, repo } = parseRepoUrl(repoUrl, integrations);
  // GitLab may live under a path or speak plain HTTP: its integration says where.
  const baseUrl = (
    integrations.gitlab.byHost(host)?.config.baseUrl ?? `https://${host}`
  ).replace(/\/+$/, '');
  if (!owner) {
    throw new InputError(`${repoUrl} names no owner`);
  }
  return `${baseUrl}/${owner}/${repo}.git`;
}

/** The backend's request for an action's input. */
export function bootstrapRequest(
  input: DeliveryInput,
  dryRun: boolean,
  integrations: ScmIntegrationRegistry,
): FluxBootstrapRequest {
  const pattern = input.path ?? 'deploy/{cluster}';
  return {
    entityRef: input.entityRef,
    url: repositoryUrl(input.repoUrl, integrations),
    clusters: input.clusters.map(name => ({
      name,
      path: pattern.replace(/\{cluster\}/g, name),
    })),
    dryRun,
    ...(input.owner ? { owner: input.owner } : {}),
    ...(input.ref ? { ref: input.ref } : {}),
    ...(input.name ? { name: input.name } : {}),
    ...(input.interval ? { interval: input.interval } : {}),
    ...(input.insecure !== undefined ? { insecure: input.insecure } : {}),
    ...(input.credential !== undefined ? { credential: input.credential } : {}),
  };
}

/** The backend's own words for a refusal (a ResponseError's message is only the status). */
function reasonOf(error: ResponseError): string {
  return error.body?.error?.message ?? error.message;
}

/** Whether the backend said the entity is not in the catalog (yet). */
function entityNotFound(error: unknown): boolean {
  return (
    error instanceof ResponseError &&
    error.response.status === 404 &&
    /^No entity /.test(reasonOf(error))
  );
}

/**
 * Calls the backend; a real run waits for the catalog to have the entity the template
 * has just registered (catalog:register returns before the catalog has processed it).
 * A refusal fails the step with the backend's reason, a 4xx as an `InputError`.
 */
export async function bootstrap(
  api: GitOpsBootstrapApi,
  request: FluxBootstrapRequest,
  options: {
    credentials: BackstageCredentials;
    entityTimeoutMs: number;
    pollIntervalMs: number;
    signal?: AbortSignal;
  },
): Promise<FluxBootstrapResult> {
  const deadline = Date.now() + options.entityTimeoutMs;
  for (;;) {
    try {
      return await api.bootstrap(request, {
        credentials: options.credentials,
      });
    } catch (error) {
      const waiting =
        entityNotFound(error) &&
        Date.now() < deadline &&
        !options.signal?.aborted;
      if (!waiting) {
        if (!(error instanceof ResponseError)) throw error;
        const message = `The gitops backend refused: ${reasonOf(error)}`;
        throw error.response.status < 500
          ? new InputError(message)
          : new Error(message);
      }
      await new Promise(resolve => setTimeout(resolve, options.pollIntervalMs));
    }
  }
}
