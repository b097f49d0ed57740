import { HttpAuthService } from '@backstage/backend-plugin-api';
import express from 'express';
import Router from 'express-promise-router';
import { parseInput } from '../service/requestHelpers';
import { DeliveryNotifier, notifyBodySchema } from './DeliveryNotifier';

/**
 * `POST /notify`: a CI pipeline, with a Backstage external access token (a service
 * principal; a user token is refused), says what it pushed; 202 with the operations.
 */
export function createNotifyRoutes(options: {
  notifier: DeliveryNotifier;
  httpAuth: HttpAuthService;
}): express.Router {
  const router = Router();
  router.use(express.json());
  router.post('/notify', async (req, res) => {
    const credentials = await options.httpAuth.credentials(req, {
      allow: ['service'],
    });
    const body = parseInput(notifyBodySchema, req.body ?? {}, 'request body');
    const items = await options.notifier.notify(body, {
      credentials,
      requestedBy: credentials.principal.subject,
      request: req,
    });
    res.status(202).json({ items });
  });
  return router;
}
