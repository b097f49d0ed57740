import {
  BackstageCredentials,
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { ResourcePermission } from '@backstage/plugin-permission-common';
import {
  gitopsEntityReadPermission,
  gitopsEntityReconcilePermission,
  gitopsEntitySuspendPermission,
} from '@backstage-gitops/plugin-gitops-common';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { AuditStore } from '../database/AuditStore';
import { OperationAction, OperationStore } from '../database/OperationStore';
import {
  allowedEntityRefs,
  entityForRequest,
  parseInput,
  requireEntityPermission,
} from '../service/requestHelpers';
import { FluxObjectRef, isFluxKind } from './fluxKinds';
import { OperationRunner } from './OperationRunner';

/** One Flux object that belongs to an entity, on one cluster. */
export interface EntityFluxObject {
  cluster: string;
  target: FluxObjectRef;
  /** Sources are reconciled through their consumers' `withSource`, not on their own. */
  role: 'source' | 'consumer';
  /** `spec.suspend` as last seen: a suspended object is not reconciled (409). */
  suspended: boolean;
}

/** Which Flux objects belong to an entity (from the watch caches: no cluster call). */
export interface EntityFluxObjects {
  objectsOf(entityRef: string, entity: Entity): Promise<EntityFluxObject[]>;
}

/** Every entity that claims an object (see tenancy/ObjectClaims). */
export interface FluxObjectClaimants {
  claimantsOf(cluster: string, ref: FluxObjectRef): Promise<string[]>;
}

const describe = (object: EntityFluxObject) =>
  `${object.target.kind}/${object.target.namespace}/${object.target.name} on ${object.cluster}`;

const targetSchema = z
  .object({
    cluster: z.string().min(1),
    kind: z.string().refine(isFluxKind, { message: 'is not a Flux kind' }),
    namespace: z.string().min(1),
    name: z.string().min(1),
  })
  .strict();

const reconcileBody = z
  .object({
    /** Absent: every Kustomization and HelmRelease of the entity. */
    target: targetSchema.optional(),
    withSource: z.boolean().optional(),
  })
  .strict();

const suspendBody = z.object({ target: targetSchema }).strict();

const auditQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(500).optional() })
  .strict();

const ACTION_PERMISSIONS: Record<OperationAction, ResourcePermission> = {
  reconcile: gitopsEntityReconcilePermission,
  suspend: gitopsEntitySuspendPermission,
  resume: gitopsEntitySuspendPermission,
};

/**
 * `POST /entities/:kind/:namespace/:name/{reconcile,suspend,resume}` (202 with the
 * operations), `GET /operations/:id` and `GET /entities/:kind/:namespace/:name/audit`.
 * An action only reaches objects that belong to the entity; the permission is checked
 * on the entity before anything is patched.
 */
export function createEntityActionRoutes(options: {
  runner: OperationRunner;
  operations: OperationStore;
  audit: AuditStore;
  objects: EntityFluxObjects;
  claims: FluxObjectClaimants;
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const {
    runner,
    operations,
    audit,
    objects,
    claims,
    catalog,
    httpAuth,
    permissions,
  } = options;
  const router = Router();
  router.use(express.json());

  async function entityFor(req: Request, permission: ResourcePermission) {
    const { entity, entityRef, actor, credentials } = await entityForRequest(
      req,
      { catalog, httpAuth, permissions },
      permission,
    );
    return { entity, entityRef, requestedBy: actor, credentials };
  }

  /**
   * An object other entities claim too (their delivery repository or kubernetes-id
   * names it) is acted on only by someone with the permission on every claimant.
   */
  async function requireEveryClaimant(
    chosen: EntityFluxObject[],
    entityRef: string,
    permission: ResourcePermission,
    credentials: BackstageCredentials,
  ) {
    const others = new Map<string, EntityFluxObject[]>();
    for (const object of chosen) {
      for (const claimant of await claims.claimantsOf(
        object.cluster,
        object.target,
      )) {
        if (claimant === entityRef) continue;
        others.set(claimant, [...(others.get(claimant) ?? []), object]);
      }
    }
    const allowed = await allowedEntityRefs(
      permissions,
      permission,
      [...others.keys()],
      credentials,
    );
    const refused = [...others.entries()].filter(([ref]) => !allowed.has(ref));
    if (refused.length > 0) {
      throw new NotAllowedError(
        `Not allowed to ${permission.name} on ${refused
          .map(
            ([ref, claimed]) =>
              `${claimed.map(describe).join(', ')}: also claimed by ${ref}`,
          )
          .join('; ')}`,
      );
    }
  }

  async function startActions(
    req: Request,
    action: OperationAction,
    target: z.infer<typeof targetSchema> | undefined,
    withSource: boolean,
  ) {
    const { entity, entityRef, requestedBy, credentials } = await entityFor(
      req,
      ACTION_PERMISSIONS[action],
    );
    const owned = await objects.objectsOf(entityRef, entity);
    let chosen: EntityFluxObject[];
    if (target) {
      const match = owned.find(
        object =>
          object.cluster === target.cluster &&
          object.target.kind === target.kind &&
          object.target.namespace === target.namespace &&
          object.target.name === target.name,
      );
      if (!match) {
        throw new NotFoundError(
          `${target.kind}/${target.namespace}/${target.name} on cluster ${target.cluster} does not belong to ${entityRef}`,
        );
      }
      chosen = [match];
    } else {
      chosen = owned.filter(object => object.role === 'consumer');
      if (chosen.length === 0) {
        throw new InputError(`${entityRef} has no Flux objects to ${action}`);
      }
    }
    if (action === 'reconcile') {
      // As `flux reconcile`: a suspended object is refused before anything is patched.
      const suspended = chosen.filter(object => object.suspended);
      chosen = chosen.filter(object => !object.suspended);
      if (chosen.length === 0) {
        throw new ConflictError(
          `${suspended.map(describe).join(', ')}: resource is suspended`,
        );
      }
    }
    await requireEveryClaimant(
      chosen,
      entityRef,
      ACTION_PERMISSIONS[action],
      credentials,
    );
    const started = [];
    for (const object of chosen) {
      started.push(
        await runner.start(
          {
            entityRef,
            cluster: object.cluster,
            target: object.target,
            action,
            withSource,
            requestedBy,
          },
          { request: req },
        ),
      );
    }
    return started;
  }

  router.post(
    '/entities/:kind/:namespace/:name/reconcile',
    async (req, res) => {
      const body = parseInput(reconcileBody, req.body ?? {}, 'request body');
      const started = await startActions(
        req,
        'reconcile',
        body.target,
        body.withSource ?? false,
      );
      res.status(202).json({ items: started });
    },
  );

  for (const action of ['suspend', 'resume'] as const) {
    router.post(
      `/entities/:kind/:namespace/:name/${action}`,
      async (req, res) => {
        const body = parseInput(suspendBody, req.body ?? {}, 'request body');
        const started = await startActions(req, action, body.target, false);
        res.status(202).json({ items: started });
      },
    );
  }

  router.get('/operations/:id', async (req, res) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const operation = await operations.get(req.params.id);
    if (!operation) {
      throw new NotFoundError(`No operation ${req.params.id}`);
    }
    await requireEntityPermission(
      permissions,
      gitopsEntityReadPermission,
      operation.entityRef,
      credentials,
    );
    res.json(operation);
  });

  router.get('/entities/:kind/:namespace/:name/audit', async (req, res) => {
    const query = parseInput(auditQuery, req.query, 'query');
    const { entityRef } = await entityFor(req, gitopsEntityReadPermission);
    res.json({ items: await audit.list({ entityRef, limit: query.limit }) });
  });

  return router;
}
