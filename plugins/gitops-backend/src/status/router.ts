import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { gitopsEntityReadPermission } from '@backstage-gitops/plugin-gitops-common';
import express from 'express';
import Router from 'express-promise-router';
import { entityForRequest } from '../service/requestHelpers';
import { ObjectClaims } from '../tenancy/ObjectClaims';
import { EntityStatusService } from './EntityStatusService';

/**
 * `GET /entities/:kind/:namespace/:name/status`: the entity's Flux status on every
 * cluster. The entity is looked up as the caller (one they may not see is not found),
 * and reading needs `gitops.entity.read` on it. Objects claimed also by an entity the
 * caller may not read are left out (`ObjectClaims.unreadable`).
 */
export function createStatusRoutes(options: {
  statusService: Pick<EntityStatusService, 'getStatus'>;
  claims: Pick<ObjectClaims, 'unreadable'>;
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { statusService, claims, catalog, httpAuth, permissions } = options;
  const router = Router();

  router.get('/entities/:kind/:namespace/:name/status', async (req, res) => {
    const { entity, entityRef, credentials } = await entityForRequest(
      req,
      { catalog, httpAuth, permissions },
      gitopsEntityReadPermission,
    );
    res.json(
      await statusService.getStatus(entityRef, entity, {
        viewer: {
          unreadable: objects =>
            claims.unreadable(entity, objects, credentials),
        },
      }),
    );
  });

  return router;
}
