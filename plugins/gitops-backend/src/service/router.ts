import { createValidatedOpenApiRouter } from '@backstage/backend-openapi-utils';
import express from 'express';
import { spec } from '../schema/openapi.generated';

/**
 * The GitOps REST API, spec-first: requests to the routes documented in
 * src/schema/openapi.yaml are validated against it before they reach a handler. The
 * feature routers stay thin: domain work lives in the services they are given, and
 * errors are thrown as `@backstage/errors`.
 */
export async function createRouter(options: {
  routes: express.Router[];
}): Promise<express.Router> {
  const router = createValidatedOpenApiRouter<typeof spec>(spec);

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  for (const routes of options.routes) {
    router.use(routes);
  }

  return router;
}
