import {
  BackstageCredentials,
  BackstageServicePrincipal,
  BackstageUserPrincipal,
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  Entity,
  parseEntityRef,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  stringifyError,
} from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { Request } from 'express';
import {
  AuthorizeResult,
  BasicPermission,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import { gitopsClusterManagePermission } from '@backstage-gitops/plugin-gitops-common';
import { permissionRules as catalogPermissionRules } from '@backstage/plugin-catalog-backend/alpha';
import { createConditionAuthorizer } from '@backstage/plugin-permission-node';
import { canonicalOwnerRef } from '../tenancy';
import { z } from 'zod';

/** Validates input with zod; a failure is a 400 naming every problem. */
export function parseInput<T>(
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  value: unknown,
  what: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues
      .map(issue => `${issue.path.join('.') || what}: ${issue.message}`)
      .join('; ');
    throw new InputError(`Invalid ${what}: ${problems}`);
  }
  return result.data;
}

/** Canonical `kind:namespace/name`; the kind is required so a ref is never ambiguous. */
export function canonicalEntityRef(ref: string): string {
  try {
    return stringifyEntityRef(parseEntityRef(ref));
  } catch (error) {
    throw new InputError(
      `Invalid entityRef "${ref}": ${stringifyError(error)}`,
    );
  }
}

/** The subset of `entityRefs` on which `permission` is allowed, in one batched call. */
export async function allowedEntityRefs(
  permissions: PermissionsService,
  permission: ResourcePermission,
  entityRefs: string[],
  credentials: BackstageCredentials,
): Promise<Set<string>> {
  if (entityRefs.length === 0) {
    return new Set();
  }
  const decisions = await permissions.authorize(
    entityRefs.map(resourceRef => ({ permission, resourceRef })),
    { credentials },
  );
  return new Set(
    entityRefs.filter((_, i) => decisions[i].result === AuthorizeResult.ALLOW),
  );
}

/** Throws NotAllowedError (403) unless `permission` is allowed on the entity. */
export async function requireEntityPermission(
  permissions: PermissionsService,
  permission: ResourcePermission,
  entityRef: string,
  credentials: BackstageCredentials,
): Promise<void> {
  const allowed = await allowedEntityRefs(
    permissions,
    permission,
    [entityRef],
    credentials,
  );
  if (!allowed.has(entityRef)) {
    throw new NotAllowedError(
      `Not allowed to ${permission.name} on ${entityRef}`,
    );
  }
}

type EntityServices = {
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
};

interface EntityOfRequest {
  entity: Entity;
  entityRef: string;
  credentials: BackstageCredentials;
  /** The user entity ref, or the service's subject, for audit trails. */
  actor: string;
}

/**
 * The entity of a `/entities/:kind/:namespace/:name/...` request as the caller sees it
 * (one they may not see is not found), after checking `permission` on it.
 */
export async function entityForRequest(
  req: Request,
  services: EntityServices,
  permission: ResourcePermission,
): Promise<EntityOfRequest> {
  const { kind, namespace, name } = req.params;
  return entityForRef(
    req,
    `${kind}:${namespace}/${name}`,
    services,
    permission,
  );
}

/** As `entityForRequest`, for an entity ref the request names elsewhere (e.g. its body). */
export async function entityForRef(
  req: Request,
  ref: string,
  services: EntityServices,
  permission: ResourcePermission,
): Promise<EntityOfRequest> {
  const requestedRef = canonicalEntityRef(ref);
  const credentials = await services.httpAuth.credentials(req, {
    allow: ['user', 'service'],
  });
  const entity = await services.catalog.getEntityByRef(requestedRef, {
    credentials,
  });
  if (!entity) {
    throw new NotFoundError(`No entity ${requestedRef} in the catalog`);
  }
  const entityRef = stringifyEntityRef(entity);
  await requireEntityPermission(
    services.permissions,
    permission,
    entityRef,
    credentials,
  );
  return { entity, entityRef, credentials, actor: actorOf(credentials) };
}

/** Applies a conditional decision to an entity with the catalog's own permission rules. */
const entityAuthorizer = createConditionAuthorizer(
  Object.values(catalogPermissionRules),
);

/**
 * An entity the catalog does not have yet (a template's dry run names the entity it is
 * about to register), authorized as if it existed with `owner`: the policy's conditional
 * decision is applied to it with the catalog's own permission rules, so the policy that
 * decides for registered entities decides here too. Refused: a 403, as for an entity.
 */
export async function prospectiveEntityFor(
  req: Request,
  ref: string,
  owner: string,
  services: Pick<EntityServices, 'httpAuth' | 'permissions'>,
  permission: ResourcePermission,
): Promise<EntityOfRequest> {
  const entityRef = canonicalEntityRef(ref);
  const { kind, namespace, name } = parseEntityRef(entityRef);
  let ownerRef: string;
  try {
    ownerRef = canonicalOwnerRef(owner, namespace);
  } catch (error) {
    throw new InputError(`Invalid owner "${owner}": ${stringifyError(error)}`);
  }
  const entity: Entity = {
    apiVersion: 'backstage.io/v1alpha1',
    kind,
    metadata: { namespace, name },
    spec: { owner: ownerRef },
    relations: [{ type: 'ownedBy', targetRef: ownerRef }],
  };
  const credentials = await services.httpAuth.credentials(req, {
    allow: ['user', 'service'],
  });
  const [decision] = await services.permissions.authorizeConditional(
    [{ permission }],
    { credentials },
  );
  if (!entityAuthorizer(decision, entity)) {
    throw new NotAllowedError(
      `Not allowed to ${permission.name} on ${entityRef} (owned by ${ownerRef})`,
    );
  }
  return { entity, entityRef, credentials, actor: actorOf(credentials) };
}

function actorOf(credentials: BackstageCredentials): string {
  const principal = credentials.principal as
    | BackstageUserPrincipal
    | BackstageServicePrincipal;
  return principal.type === 'user'
    ? principal.userEntityRef
    : principal.subject;
}

/** The caller's credentials, after checking a basic (non-resource) permission (a 403 otherwise). */
export async function requireBasicPermission(
  req: Request,
  services: { httpAuth: HttpAuthService; permissions: PermissionsService },
  permission: BasicPermission,
  what: string,
): Promise<
  BackstageCredentials<BackstageUserPrincipal | BackstageServicePrincipal>
> {
  const credentials = await services.httpAuth.credentials(req, {
    allow: ['user', 'service'],
  });
  const [decision] = await services.permissions.authorize([{ permission }], {
    credentials,
  });
  if (decision.result !== AuthorizeResult.ALLOW) {
    throw new NotAllowedError(`Not allowed to ${what} (${permission.name})`);
  }
  return credentials;
}

/** The caller's credentials, after checking `gitops.cluster.manage` (a 403 otherwise). */
export function requireClusterManage(
  req: Request,
  services: { httpAuth: HttpAuthService; permissions: PermissionsService },
) {
  return requireBasicPermission(
    req,
    services,
    gitopsClusterManagePermission,
    'manage GitOps clusters',
  );
}
