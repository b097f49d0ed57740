import { createHash, timingSafeEqual } from 'node:crypto';
import {
  coreServices,
  createBackendModule,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { CustomErrorBase, InputError } from '@backstage/errors';
import { GitlabEventRouter } from '@backstage/plugin-events-backend-module-gitlab';
import {
  eventsServiceRef,
  HttpBodyParser,
  RequestValidator,
} from '@backstage/plugin-events-node';
import { eventsExtensionPoint } from '@backstage/plugin-events-node/alpha';

/** Equal strings, compared in a time that does not depend on where they differ. */
export function constantTimeEquals(expected: string, given: string): boolean {
  // Digests have one length, so neither the length nor a prefix of the secret leaks.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/**
 * Checks `X-Gitlab-Token` against `events.modules.gitlab.webhookSecret`, as the events
 * backend's GitLab module does, but in constant time (it compares with `!==`, which
 * tells a caller timing the answers how much of a guess was right).
 */
export function createConstantTimeGitlabTokenValidator(
  config: RootConfigService,
): RequestValidator | undefined {
  const secret = config.getOptionalString(
    'events.modules.gitlab.webhookSecret',
  );
  if (!secret) return undefined;
  return async (request, context) => {
    const token = request.headers['x-gitlab-token'];
    if (typeof token !== 'string' || !constantTimeEquals(secret, token)) {
      context.reject({ status: 403, payload: { message: 'invalid token' } });
    }
  };
}

/** A charset the events backend cannot decode: 415, as its own parser answers. */
class UnsupportedCharsetError extends CustomErrorBase {
  name = 'UnsupportedCharsetError';
  statusCode = 415;
}

/** A body of no media type: 415, as the events backend answers an unknown one. */
class UnsupportedMediaTypeError extends CustomErrorBase {
  name = 'UnsupportedMediaTypeError';
  statusCode = 415;
}

/**
 * The events backend's `application/json` body parser, answering a body that is not
 * JSON with 400 naming the problem (its own lets the SyntaxError through: a 500).
 */
export const jsonWebhookBodyParser: HttpBodyParser = async (
  request,
  parsedMediaType,
  topic,
) => {
  // express.raw leaves no Buffer for an empty body: that is no JSON either.
  const bodyBuffer = Buffer.isBuffer(request.body)
    ? request.body
    : Buffer.alloc(0);
  const encoding = parsedMediaType.parameters.charset ?? 'utf-8';
  if (!Buffer.isEncoding(encoding)) {
    throw new UnsupportedCharsetError(`Unsupported charset: ${encoding}`);
  }
  try {
    return {
      bodyParsed: JSON.parse(bodyBuffer.toString(encoding)),
      bodyBuffer,
      encoding,
    };
  } catch (error) {
    throw new InputError(
      `The ${topic} webhook body is not valid JSON: ${
        (error as Error).message
      }`,
    );
  }
};

/**
 * The events backend's GitLab webhook ingress (`POST /api/events/http/gitlab`, topics
 * `gitlab` and `gitlab.<event>`), with the token compared in constant time and a
 * malformed JSON body answered 400. Use it instead
 * of `@backstage/plugin-events-backend-module-gitlab`: it has the same module id, so the
 * backend refuses to start with both.
 *
 * @public
 */
export const eventsModuleGitlabWebhook = createBackendModule({
  pluginId: 'events',
  moduleId: 'gitlab-webhook',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        extension: eventsExtensionPoint,
        events: eventsServiceRef,
        httpRouter: coreServices.httpRouter,
      },
      async init({ config, extension, events, httpRouter }) {
        // The events backend reads the media type before any check and throws without
        // one (a 500): ahead of its routes (a module starts before its plugin), a POST
        // to an ingress without Content-Type is answered 415 here.
        httpRouter.use((req, _res, next) => {
          if (
            req.method === 'POST' &&
            req.path.startsWith('/http/') &&
            !req.headers['content-type']
          ) {
            next(
              new UnsupportedMediaTypeError(
                'Unsupported media type: the request has no Content-Type header',
              ),
            );
            return;
          }
          next();
        });
        const validator = createConstantTimeGitlabTokenValidator(config);
        // As upstream: without a secret there is no ingress, so no unauthenticated one.
        if (validator) {
          extension.addHttpPostIngress({ topic: 'gitlab', validator });
        }
        // For every ingress of the events backend: malformed JSON is the sender's error.
        extension.addHttpPostBodyParser({
          contentType: 'application/json',
          parser: jsonWebhookBodyParser,
        });
        await new GitlabEventRouter({ events }).subscribe();
      },
    });
  },
});
