import { createBackendModule } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import eventsPlugin from '@backstage/plugin-events-backend';
import {
  EventParams,
  eventsServiceFactory,
  eventsServiceRef,
  RequestDetails,
} from '@backstage/plugin-events-node';
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { AddressInfo } from 'node:net';
import request from 'supertest';
import {
  createConstantTimeGitlabTokenValidator,
  eventsModuleGitlabWebhook,
} from './gitlabWebhookModule';

/**
 * The GitLab webhook ingress under arbitrary requests: a wrong X-Gitlab-Token is
 * refused with 403 and publishes nothing; with the right one any JSON payload is
 * accepted and published as sent; another media type is a 415. None is a 5xx.
 */

jest.setTimeout(60_000);

const NUM_RUNS = 60;
const SECRET = 'a-webhook-secret';
const INGRESS = '/api/events/http/gitlab';

/** Tokens as a header can carry them: visible ASCII, optionally inner spaces. */
const headerToken = fc
  .string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c)),
    maxLength: 40,
  })
  // HTTP drops a value's surrounding whitespace, so ` secret ` would be the secret.
  .map(token => token.trim())
  .filter(token => token !== SECRET);
/** Near misses: the secret with one character changed, cut, or extended. */
const nearMiss = fc.oneof(
  fc
    .tuple(fc.nat(SECRET.length - 1), fc.constantFrom('x', 'A', '-', '0'))
    .map(([at, c]) => `${SECRET.slice(0, at)}${c}${SECRET.slice(at + 1)}`),
  fc.nat(SECRET.length - 1).map(n => SECRET.slice(0, n)),
  fc.constantFrom('x', 'secret').map(extra => `${SECRET}${extra}`),
  fc.constant(SECRET.toUpperCase()),
);
const wrongToken = fc
  .oneof(headerToken, nearMiss)
  .filter(token => token !== SECRET);
/** A GitLab-like payload or any JSON at all. */
const payload = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      object_kind: fc.oneof(
        fc.constantFrom('push', 'tag_push', 'merge_request', ''),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      event_name: fc.jsonValue({ maxDepth: 1 }),
      project: fc.jsonValue({ maxDepth: 2 }),
      commits: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  ),
);

describe('createConstantTimeGitlabTokenValidator, property-based', () => {
  const validator = createConstantTimeGitlabTokenValidator(
    mockServices.rootConfig({
      data: { events: { modules: { gitlab: { webhookSecret: SECRET } } } },
    }),
  )!;

  async function verdict(
    headers: RequestDetails['headers'],
    body: unknown,
  ): Promise<{ status: number } | 'accepted'> {
    let rejected: { status: number } | undefined;
    await validator({ body, headers } as RequestDetails, {
      reject: details => {
        rejected = { status: details?.status ?? 403 };
      },
    });
    return rejected ?? 'accepted';
  }

  it('accepts exactly the secret, whatever the payload', async () => {
    // Unlike over HTTP, a header here is taken as given: surrounding spaces count.
    const anyToken = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      nearMiss,
      fc.constant(SECRET),
      fc.constant(` ${SECRET}`),
    );
    await fc.assert(
      fc.asyncProperty(anyToken, payload, async (token, body) => {
        await expect(
          verdict({ 'x-gitlab-token': token }, body),
        ).resolves.toEqual(token === SECRET ? 'accepted' : { status: 403 });
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('refuses a token given twice or not at all', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.array(fc.constantFrom(SECRET, 'x'), { minLength: 2 })),
        payload,
        async (tokens, body) => {
          const headers = tokens ? { 'x-gitlab-token': tokens } : {};
          await expect(verdict(headers, body)).resolves.toEqual({
            status: 403,
          });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('the GitLab webhook ingress over HTTP, property-based', () => {
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];
  const published: EventParams[] = [];

  beforeAll(async () => {
    const backend = await startTestBackend({
      features: [
        eventsPlugin,
        eventsModuleGitlabWebhook,
        // The production events service: a subscriber's failure is logged, as in a
        // real backend (the test backend's mock would pass it on to the ingress).
        eventsServiceFactory,
        mockServices.rootConfig.factory({
          data: {
            events: {
              useEventBus: 'never',
              modules: { gitlab: { webhookSecret: SECRET } },
            },
          },
        }),
        // Records what the ingress publishes, to tell a refusal from an acceptance.
        createBackendModule({
          pluginId: 'events',
          moduleId: 'property-recorder',
          register(env) {
            env.registerInit({
              deps: { events: eventsServiceRef },
              async init({ events }) {
                await events.subscribe({
                  id: 'property-recorder',
                  topics: ['gitlab'],
                  onEvent: async event => {
                    published.push(event);
                  },
                });
              },
            });
          },
        }),
      ],
    });
    server = backend.server;
  });

  beforeEach(() => {
    published.length = 0;
  });

  const post = (
    body: string,
    token?: string,
    contentType = 'application/json',
  ) => {
    let req = request(server).post(INGRESS).set('Content-Type', contentType);
    if (token !== undefined) req = req.set('X-Gitlab-Token', token);
    return req.send(body);
  };

  it('refuses a wrong or missing token with 403, publishing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(wrongToken, { nil: undefined }),
        payload,
        async (token, body) => {
          const before = published.length;
          const res = await post(JSON.stringify(body), token);
          expect(res.status).toBe(403);
          expect(res.body).toEqual({ message: 'invalid token' });
          expect(published.length).toBe(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('accepts any JSON payload with the right token and publishes it as sent', async () => {
    await fc.assert(
      fc.asyncProperty(payload, async body => {
        const before = published.length;
        const sent = JSON.stringify(body);
        const res = await post(sent, SECRET);
        expect(res.status).toBe(202);
        expect(published.length).toBe(before + 1);
        const [event] = published.slice(-1);
        expect(event.topic).toBe('gitlab');
        // As sent on the wire (JSON has no -0, for one).
        expect(event.eventPayload).toEqual(JSON.parse(sent));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers other media types and charsets with 415, publishing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(
            'text/plain',
            'application/xml',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/jsonx',
          ),
          fc
            .constantFrom('x-unknown', 'utf-7', 'ebcdic', '')
            .map(charset => `application/json; charset=${charset || '""'}`),
        ),
        payload,
        fc.oneof(fc.constant(SECRET), wrongToken),
        async (contentType, body, token) => {
          const before = published.length;
          const res = await post(JSON.stringify(body), token, contentType);
          expect(res.status).toBe(415);
          expect(res.body.error.message).toMatch(
            /^Unsupported (media type|charset)/,
          );
          expect(published.length).toBe(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers a body that is not JSON with 400 naming it, publishing nothing', async () => {
    const notJson = fc.string({ maxLength: 60 }).filter(text => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    });
    await fc.assert(
      fc.asyncProperty(
        notJson,
        fc.oneof(fc.constant(SECRET), wrongToken),
        async (body, token) => {
          const before = published.length;
          const res = await post(body, token, 'application/json');
          expect(res.status).toBe(400);
          expect(res.body.error).toMatchObject({
            name: 'InputError',
            message: expect.stringMatching(
              /^The gitlab webhook body is not valid JSON/,
            ),
          });
          expect(published.length).toBe(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers a request without Content-Type with 415, publishing nothing', async () => {
    const { port } = server.address() as AddressInfo;
    await fc.assert(
      fc.asyncProperty(
        payload,
        fc.oneof(fc.constant(SECRET), wrongToken),
        async (body, token) => {
          const before = published.length;
          // Node's http client, as supertest and fetch would add a Content-Type.
          const answer = await new Promise<{ status: number; body: any }>(
            (resolve, reject) => {
              const req = httpRequest(
                {
                  port,
                  host: '127.0.0.1',
                  method: 'POST',
                  path: INGRESS,
                  headers: { 'X-Gitlab-Token': token },
                },
                res => {
                  let text = '';
                  res.on('data', chunk => (text += chunk));
                  res.on('end', () =>
                    resolve({
                      status: res.statusCode!,
                      body: JSON.parse(text),
                    }),
                  );
                },
              );
              req.on('error', reject);
              req.end(JSON.stringify(body));
            },
          );
          expect(answer.status).toBe(415);
          expect(answer.body.error.message).toMatch(/no Content-Type/);
          expect(published.length).toBe(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
