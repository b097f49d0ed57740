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
  const router = createValidatedOpenApiRouter<typeof spec>(spec, {
    middleware: [jsonBody()],
  });

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  for (const routes of options.routes) {
    router.use(routes);
  }

  return router;
}

/** The largest JSON body accepted; every request body of the API is far smaller. */
const BODY_LIMIT = '100kb';

/**
 * `express.json()`, answering a body over the limit with 413. The OpenAPI router turns
 * every error before its validator into a 400 InputError, so this one is answered here,
 * in the shape of Backstage's error responses.
 */
function jsonBody(): express.RequestHandler {
  const parse = express.json({ limit: BODY_LIMIT });
  return (req, res, next) =>
    parse(req, res, (error?: unknown) => {
      if (
        (error as { type?: string } | undefined)?.type === 'entity.too.large'
      ) {
        res.status(413).json({
          error: {
            name: 'PayloadTooLargeError',
            message: `The request body is larger than ${BODY_LIMIT}`,
          },
          request: { method: req.method, url: req.originalUrl },
          response: { statusCode: 413 },
        });
        return;
      }
      next(error);
    });
}
