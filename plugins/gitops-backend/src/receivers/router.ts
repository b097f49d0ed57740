import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  DeliveryRepository,
  gitopsEntityReadPermission,
  ManagedReceiver,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import express from 'express';
import Router from 'express-promise-router';
import { ReceiverStore } from '../database/ReceiverStore';
import {
  entityForRequest,
  requireClusterManage,
} from '../service/requestHelpers';
import { pageOf, readPage } from '../service/paging';

/**
 * `GET /receivers`: every managed Flux Receiver with its last trigger, for those who
 * manage clusters (`gitops.cluster.manage`); `GET /entities/.../receivers`: those of
 * an entity's delivery repositories, for its readers. Tokens are never part of it.
 */
export function createReceiverRoutes(options: {
  store: Pick<ReceiverStore, 'list'>;
  deliveries: { listForEntity(entity: Entity): Promise<DeliveryRepository[]> };
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { store, deliveries, catalog, httpAuth, permissions } = options;
  const router = Router();

  router.get('/entities/:kind/:namespace/:name/receivers', async (req, res) => {
    const { entity } = await entityForRequest(
      req,
      { catalog, httpAuth, permissions },
      gitopsEntityReadPermission,
    );
    const items: ManagedReceiver[] = [];
    const seen = new Set<string>();
    for (const delivery of await deliveries.listForEntity(entity)) {
      const repository = parseRepositoryUrl(delivery.url).normalized;
      for (const receiver of await store.list({ repository })) {
        const key = `${receiver.cluster}/${receiver.namespace}/${receiver.name}`;
        if (seen.has(key)) continue;
        if (
          delivery.clusters &&
          !delivery.clusters.includes(receiver.cluster)
        ) {
          continue;
        }
        seen.add(key);
        items.push(receiver);
      }
    }
    res.json(pageOf(items, readPage(req.query)));
  });

  router.get('/receivers', async (req, res) => {
    await requireClusterManage(req, { httpAuth, permissions });
    const cluster =
      typeof req.query.cluster === 'string' ? req.query.cluster : undefined;
    res.json(pageOf(await store.list({ cluster }), readPage(req.query)));
  });

  return router;
}
