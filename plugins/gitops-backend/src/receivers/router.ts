import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import express from 'express';
import Router from 'express-promise-router';
import { ReceiverStore } from '../database/ReceiverStore';
import { requireClusterManage } from '../service/requestHelpers';

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
    await requireClusterManage(req, { httpAuth, permissions });
    const cluster =
      typeof req.query.cluster === 'string' ? req.query.cluster : undefined;
    res.json({ items: await store.list({ cluster }) });
  });

  return router;
}
