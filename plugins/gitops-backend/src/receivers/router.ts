import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { gitopsClusterManagePermission } from '@backstage-gitops/plugin-gitops-common';
import express from 'express';
import Router from 'express-promise-router';
import { ReceiverStore } from '../database/ReceiverStore';

/**
 * `GET /receivers`: every managed Flux Receiver with its last trigger, for those who
 * manage clusters (`gitops.cluster.manage`). Tokens are never part of it.
 */
export function createReceiverRoutes(options: {
  store: Pick<ReceiverStore, 'list'>;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { store, httpAuth, permissions } = options;
  const router = Router();

  router.get('/receivers', async (req, res) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const [decision] = await permissions.authorize(
      [{ permission: gitopsClusterManagePermission }],
      { credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(
        `Not allowed to ${gitopsClusterManagePermission.name}`,
      );
    }
    const cluster =
      typeof req.query.cluster === 'string' ? req.query.cluster : undefined;
    res.json({ items: await store.list({ cluster }) });
  });

  return router;
}
