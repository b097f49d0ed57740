import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { parseEntityRef } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import fc from 'fast-check';
import request from 'supertest';
import { gitopsPlugin } from '../plugin';

/**
 * Bad input, property-based: whatever a caller sends to the REST API, the answer is a
 * 4xx in Backstage's error shape whose message names the problem, never a 5xx, and a
 * refused request writes nothing. One backend serves every property (startup is slow);
 * it has no cluster, so nothing here ever reaches a Kubernetes API or a Git host.
 */

jest.setTimeout(60_000);

const NUM_RUNS = 60;
const USER = mockCredentials.user.header();
const SERVICE = mockCredentials.service.header();

/** The one entity of the catalog: every other ref is simply not found. */
const WEB = 'component:default/web';
const DELIVERY_URL = 'https://gitlab.example.com/team/delivery.git';
/** A well-formed action target; web has no Flux object, so none belongs to it. */
const TARGET = {
  cluster: 'dev',
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'web',
};
const FLUX_KINDS = [
  'GitRepository',
  'OCIRepository',
  'Bucket',
  'HelmRepository',
  'HelmChart',
  'Kustomization',
  'HelmRelease',
  'Receiver',
];

let server: Awaited<ReturnType<typeof startTestBackend>>['server'];

type Method = 'get' | 'post' | 'delete';

interface Answer {
  status: number;
  body: any;
}

async function call(
  method: Method,
  path: string,
  options: { body?: unknown; auth?: string } = {},
): Promise<Answer> {
  let req = request(server)
    [method](`/api/gitops${path}`)
    .set('Authorization', options.auth ?? USER);
  if (options.body !== undefined) {
    // Sent as JSON text whatever the value is: a string body must not become a form.
    req = req
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(options.body));
  }
  const res = await req;
  return { status: res.status, body: res.body };
}

/** What a request may have written: every list the API has. */
async function state() {
  const lists = await Promise.all(
    [
      '/delivery-repositories',
      '/clusters',
      '/tokens',
      '/receivers',
      `/entities/component/default/web/audit`,
    ].map(async path => {
      const res = await call('get', path);
      expect(res.status).toBe(200);
      return [path, res.body.items];
    }),
  );
  return Object.fromEntries(lists);
}

/** How Backstage answers each error, so a name can only come with its own status. */
const STATUS_OF_ERROR: Record<string, number> = {
  InputError: 400,
  NotAllowedError: 403,
  NotFoundError: 404,
  ConflictError: 409,
};

/** A refusal: a 4xx in Backstage's error shape, its message naming the problem. */
function expectRefused(res: Answer, mentions: RegExp = /\S/) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.body).toMatchObject({
    error: { name: expect.any(String), message: expect.any(String) },
    response: { statusCode: res.status },
  });
  expect(STATUS_OF_ERROR[res.body.error.name]).toBe(res.status);
  expect(res.body.error.message).toMatch(mentions);
}

function parsesAsUrl(url: string): boolean {
  try {
    return Boolean(new URL(url));
  } catch {
    return false;
  }
}

function isWellFormedRef(ref: string): boolean {
  try {
    parseEntityRef(ref);
    return true;
  } catch {
    return false;
  }
}

/** How a refusal is expected to look. */
interface Expected {
  status: number;
  mentions: RegExp;
}

/**
 * How a ref other than web's is refused: malformed, a 400 naming entityRef;
 * well-formed (the catalog's own parser is the judge), a 404 as no such entity exists.
 */
function refusalOfEntityRef(ref: unknown): Expected {
  return typeof ref === 'string' && isWellFormedRef(ref)
    ? { status: 404, mentions: /No entity .* in the catalog/s }
    : { status: 400, mentions: /entityRef/ };
}

/** For a body of any shape: any refusal but a 403 (every permission is allowed). */
const ANY_REFUSAL: Expected[] = [400, 404, 409].map(status => ({
  status,
  mentions: /\S/,
}));

/** A refusal as one of `expected`, picked by its status. */
function expectOneOf(res: Answer, expected: Expected[]) {
  expect(expected.map(e => e.status)).toContain(res.status);
  expectRefused(res, expected.find(e => e.status === res.status)?.mentions);
}

// ---- Arbitraries -------------------------------------------------------------------

const text = (maxLength = 40) => fc.string({ unit: 'grapheme', maxLength });
const segment = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/);
const nonString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(text(8), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const nonBoolean = fc.oneof(
  fc.integer(),
  fc.constantFrom('true', 'false', ''),
  fc.constant(null),
);
/** Any ref but one that could name web (matched case-insensitively by the catalog). */
const otherEntityRef = text().filter(ref => !/web/i.test(ref));
/** Every key of every request body of the API. */
const BODY_KEYS = new Set(
  `entityRef url ref path clusters name token caData skipTLSVerify fluxNamespace
   receiverUrl interval insecure credential dryRun repository purpose commit tag
   digest target withSource cluster kind namespace`.split(/\s+/),
);
/** A key no request body of the API has. */
const unknownKey = fc
  .stringMatching(/^[a-zA-Z_$][a-zA-Z0-9_$]{0,11}$/)
  .filter(key => !BODY_KEYS.has(key));

/** Hosts the backend must never be pointed at: loopback, link-local, unspecified. */
const localHost = fc.oneof(
  fc
    .tuple(fc.nat(255), fc.nat(255), fc.nat(255))
    .map(([a, b, c]) => `127.${a}.${b}.${c}`),
  fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `169.254.${a}.${b}`),
  // Other spellings WHATWG URL parsing turns into the same addresses.
  fc.nat(0xffffff).map(n => String(127 * 2 ** 24 + n)),
  fc.constantFrom(
    '169.254.169.254',
    '0.0.0.0',
    '127.1',
    '0x7f.1',
    '0177.0.0.1',
    '2852039166',
    '[::1]',
    '[0:0:0:0:0:0:0:1]',
    '[::]',
    '[fe80::1]',
    'localhost',
    'LOCALHOST',
    'metadata.localhost',
    // IPv4-mapped, IPv4-compatible and NAT64 IPv6 spellings.
    '[::ffff:127.0.0.1]',
    '[::ffff:169.254.169.254]',
    '[::ffff:7f00:1]',
    '[::127.0.0.1]',
    '[64:ff9b::7f00:1]',
  ),
);

/** A path with a `.` or `..` segment somewhere. */
const dotSegmentPath = fc
  .tuple(
    fc.array(segment, { minLength: 1, maxLength: 3 }),
    fc.constantFrom('..', '.'),
    fc.nat(),
  )
  .map(([segments, dot, at]) => {
    const out = [...segments];
    out.splice(at % (out.length + 1), 0, dot);
    return out.join('/');
  });

/**
 * Strings that are not a delivery repository URL by the API's contract (https://,
 * http://, ssh://, oci:// or user@host:path naming a repository, no query, no fragment,
 * no malformed %-escape, no control character).
 */
const badRepositoryUrl = fc.oneof(
  fc.constantFrom('', ' ', '\t', 'file:///etc/passwd', 'oci:///team/app'),
  // Neither scheme:// nor user@host:path.
  text().filter(s => !s.includes(':')),
  fc
    .tuple(
      fc.constantFrom('file', 'ftp', 'git', 'javascript', 'data', 'gopher'),
      segment,
      segment,
    )
    .map(([scheme, host, path]) => `${scheme}://${host}/${path}`),
  // A local host is no repository either without a path naming one.
  fc
    .tuple(
      fc.constantFrom('http', 'https', 'ssh'),
      localHost,
      fc.constantFrom('', '/', '//', '/.', '/..'),
    )
    .map(([scheme, host, path]) => `${scheme}://${host}${path}`),
  fc
    .tuple(fc.constantFrom('https', 'http', 'ssh', 'oci'), dotSegmentPath)
    .map(([scheme, path]) => `${scheme}://gitlab.example.com/${path}`),
  dotSegmentPath.map(path => `git@gitlab.example.com:${path}`),
  fc
    .tuple(fc.constantFrom('?', '#', '?ref='), segment)
    .map(([sep, rest]) => `https://gitlab.example.com/team/app${sep}${rest}`),
  fc
    .tuple(
      fc.constantFrom('https://gitlab.example.com/', 'git@gitlab.example.com:'),
      fc.constantFrom('%zz', '%E0%A4%A', '%', '\u0000', '%00', '\u007f', '%0a'),
    )
    .map(([prefix, bad]) => `${prefix}team/a${bad}pp`),
);

/** A repository on a host the clusters' Flux must not be sent to, in every URL form. */
const localRepositoryUrl = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('https', 'http', 'ssh', 'oci'),
      localHost,
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      segment,
    )
    .map(
      ([scheme, host, port, name]) =>
        `${scheme}://${host}${port ? `:${port}` : ''}/team/${name}`,
    ),
  // scp-like Git: no brackets, so no IPv6 host.
  fc
    .tuple(
      localHost.filter(host => !host.startsWith('[')),
      segment,
    )
    .map(([host, name]) => `git@${host}:team/${name}.git`),
);

/** A JSON body of any shape, including non-objects and huge nesting. */
const anyBody = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(text(12), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
);

/** What the message of a refused body names: the body itself, or one of its keys. */
const namesBodyOr = (...keys: string[]) =>
  new RegExp(`request[ /]body|JSON|${keys.join('|')}`);

/** `base` with `field` set to `value`, or removed when `value` is undefined. */
function mutate(
  base: Record<string, unknown>,
  field: string,
  value: unknown,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...base };
  if (value === undefined) delete body[field];
  else body[field] = value;
  return body;
}

/** A near-valid body: `field` made invalid, and the 400 expected to name it. */
interface Mutation {
  field: string;
  value: unknown;
  expected: Expected;
}
const mutation = (
  field: string,
  value: fc.Arbitrary<unknown>,
  mentions: RegExp = new RegExp(field),
): fc.Arbitrary<Mutation> =>
  value.map(v => ({ field, value: v, expected: { status: 400, mentions } }));
const entityRefMutation: fc.Arbitrary<Mutation> = fc
  .oneof(otherEntityRef, nonString)
  .map(value => ({
    field: 'entityRef',
    value,
    expected: refusalOfEntityRef(value),
  }));
/** An extra key: the validator names no key, only the kind of problem (see report). */
const extraKey = unknownKey.chain(key =>
  mutation(key, fc.jsonValue({ maxDepth: 1 }), /additional properties/),
);

// ---- The backend -------------------------------------------------------------------

let initial: Awaited<ReturnType<typeof state>>;

beforeAll(async () => {
  const backend = await startTestBackend({
    features: [
      gitopsPlugin,
      // No task runs by itself, so only the requests under test can write.
      mockServices.scheduler.factory({ skipTaskRunOnStartup: true }),
      mockServices.rootConfig.factory({
        // With a key, POST /clusters gets past the 503 to its URL checks.
        data: { gitops: { encryptionSecret: 'k'.repeat(44) } },
      }),
      catalogServiceMock.factory({
        entities: [
          {
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Component',
            metadata: { name: 'web', namespace: 'default' },
            spec: {
              type: 'service',
              owner: 'user:default/guest',
              lifecycle: 'production',
            },
          },
        ],
      }),
    ],
  });
  server = backend.server;
  initial = await state();
});

async function expectNothingStayed() {
  expect(await state()).toEqual(initial);
}

// Whatever a property sent, nothing of it stayed: not even in another list.
afterEach(() => expectNothingStayed());

// ---- 1. POST /delivery-repositories ------------------------------------------------

describe('POST /delivery-repositories', () => {
  // No `clusters`: the backend has none, and an entry may only name known ones.
  const base = {
    entityRef: WEB,
    url: DELIVERY_URL,
    ref: 'main',
    path: 'apps/web',
  };
  const listed = async () =>
    (await call('get', '/delivery-repositories')).body.items;

  it('accepts the near-valid base the properties mutate', async () => {
    // Else a refused mutation could be refused for the base's sake.
    const res = await call('post', '/delivery-repositories', { body: base });
    expect(res.status).toBe(201);
    const removed = await call(
      'delete',
      `/delivery-repositories/${res.body.id}`,
    );
    expect(removed.status).toBe(204);
  });

  it('refuses any body with a 400 or 404 naming the problem, writing nothing', async () => {
    const before = await listed();
    const shaped = fc.record(
      {
        entityRef: fc.oneof(otherEntityRef, nonString),
        url: fc.oneof(text(), nonString),
        ref: fc.oneof(text(), nonString),
        path: fc.oneof(text(), nonString),
        clusters: fc.oneof(fc.array(text(), { maxLength: 3 }), nonString),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyBody, shaped), async body => {
        const res = await call('post', '/delivery-repositories', { body });
        expectRefused(
          res,
          res.status === 404
            ? /No entity .* in the catalog/s
            : namesBodyOr('entityRef', 'url', 'path', 'ref', 'clusters'),
        );
        expect([400, 404]).toContain(res.status);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses a near-valid body with one bad field, naming that field', async () => {
    const before = await listed();
    const mutations = fc.oneof(
      entityRefMutation,
      mutation('entityRef', fc.constant(undefined)),
      mutation(
        'url',
        fc.oneof(badRepositoryUrl, localRepositoryUrl, nonString),
        /url/i,
      ),
      mutation('url', fc.constant(undefined)),
      mutation('ref', fc.oneof(fc.constant(''), nonString)),
      // `..` anywhere, after a leading `/` or `./` too. (A leading `/` alone is
      // normalized away by design: the path is relative to the repository's root.)
      mutation(
        'path',
        fc
          .tuple(fc.constantFrom('', '/', './'), dotSegmentPath)
          .filter(([, path]) => path.split('/').includes('..'))
          .map(([prefix, path]) => `${prefix}${path}`),
      ),
      mutation('path', nonString),
      mutation(
        'clusters',
        fc.oneof(
          fc.constantFrom([''], ['dev', ' '], ['\t']),
          fc.array(nonString, { minLength: 1, maxLength: 3 }),
          fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        ),
      ),
      extraKey,
    );
    await fc.assert(
      fc.asyncProperty(mutations, async ({ field, value, expected }) => {
        const body = mutate(base, field, value);
        const res = await call('post', '/delivery-repositories', { body });
        expect(res.status).toBe(expected.status);
        expectRefused(res, expected.mentions);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });
});

// ---- 2. POST /clusters -------------------------------------------------------------

describe('POST /clusters', () => {
  // Never sent as is: it would be registered.
  const base = {
    name: 'prop-cluster',
    url: 'https://203.0.113.10:6443',
    token: 'a-service-account-token',
  };
  const listed = async () => (await call('get', '/clusters')).body.items;

  it('refuses any body with a 400 naming the problem, registering nothing', async () => {
    const before = await listed();
    const shaped = fc.record(
      {
        name: fc.oneof(segment, text(), nonString),
        // Never an http(s) URL: refused whatever else the body holds.
        url: fc.oneof(
          fc
            .tuple(fc.stringMatching(/^[a-z][a-z0-9+.-]{0,6}$/), text())
            .map(([scheme, rest]) => `${scheme}:${rest}`)
            .filter(url => parsesAsUrl(url) && !/^https?:/.test(url)),
          text().filter(url => !parsesAsUrl(url)),
          nonString,
        ),
        token: fc.oneof(text(), nonString),
        skipTLSVerify: fc.oneof(fc.boolean(), nonBoolean),
        receiverUrl: fc.oneof(text(), nonString),
      },
      { requiredKeys: ['url'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyBody, shaped), async body => {
        const res = await call('post', '/clusters', { body });
        expectRefused(
          res,
          namesBodyOr(
            'Invalid cluster',
            'name',
            'url',
            'token',
            'skipTLSVerify',
            'receiverUrl',
          ),
        );
        expect(res.status).toBe(400);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses a near-valid registration with one bad field, naming that field', async () => {
    const before = await listed();
    const scheme = fc.constantFrom('http', 'https', 'HTTPS');
    const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: '' });
    const localUrl = fc
      .tuple(scheme, localHost, port, fc.constantFrom('', '/', '/api', '/x/y'))
      .map(([s, host, p, path]) => `${s}://${host}${p ? `:${p}` : ''}${path}`);
    const badUrl = fc.oneof(
      localUrl,
      fc.constantFrom(
        'file:///etc/passwd',
        'ftp://203.0.113.10/',
        'https://user:pw@203.0.113.10/',
        'https://:pw@203.0.113.10/',
        'https://user@203.0.113.10/',
      ),
      fc.constantFrom('', 'abc', '203.0.113.10:6443'),
      text().filter(url => !parsesAsUrl(url)),
      nonString,
    );
    const badName = fc.oneof(
      fc.constantFrom('', '-a', 'a-', '.a', 'a.', 'A', 'a_b', 'a b', 'a/b'),
      fc
        .tuple(segment, fc.constantFrom('A', '_', ' ', '/', ':', '\0', 'é'))
        .map(([s, bad]) => `${s}${bad}${s}`),
      fc.constant('a'.repeat(254)),
      nonString,
    );
    const mutations = fc.oneof(
      mutation('url', badUrl),
      mutation('url', fc.constant(undefined)),
      mutation('name', badName),
      mutation('token', fc.oneof(fc.constant(''), nonString)),
      mutation('caData', fc.oneof(fc.constant(''), nonString)),
      mutation('skipTLSVerify', nonBoolean),
      mutation(
        'fluxNamespace',
        fc.oneof(
          fc.constantFrom('', 'Flux', 'flux_system', '-flux', 'flux.system'),
          nonString,
        ),
      ),
      mutation(
        'receiverUrl',
        fc.oneof(
          localUrl,
          fc.constantFrom(
            '',
            'file:///etc/passwd',
            'https://user:pw@203.0.113.10/hook',
            // A service-proxy path reaches the receiver with the cluster's token.
            '/api/v1/namespaces/flux-system/services/receiver/proxy',
            '/etc/passwd',
            'not a url',
          ),
          nonString,
        ),
      ),
      extraKey,
    );
    await fc.assert(
      fc.asyncProperty(mutations, async ({ field, value, expected }) => {
        const body = mutate(base, field, value);
        const res = await call('post', '/clusters', { body });
        expect(res.status).toBe(expected.status);
        expectRefused(res, expected.mentions);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });
});

// ---- 3. Actions, tokens, bootstrap, notify -----------------------------------------

describe('POST bodies of the other routes', () => {
  const audit = async () =>
    (await call('get', '/entities/component/default/web/audit')).body.items;

  it('refuses any body of an action on an entity, starting nothing', async () => {
    const before = await audit();
    const shaped = fc.record(
      {
        target: fc.oneof(
          fc.record(
            {
              cluster: fc.oneof(text(), nonString),
              kind: fc.oneof(
                fc.constantFrom('Kustomization', 'HelmRelease', 'Secret'),
                text(),
                nonString,
              ),
              namespace: fc.oneof(text(), nonString),
              name: fc.oneof(text(), nonString),
            },
            { requiredKeys: [] },
          ),
          nonString,
        ),
        withSource: fc.oneof(fc.boolean(), nonBoolean),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('reconcile', 'suspend', 'resume'),
        fc.oneof(anyBody, shaped),
        async (action, body) => {
          const res = await call(
            'post',
            `/entities/component/default/web/${action}`,
            { body },
          );
          // web has no Flux object: even a valid body is refused, never run.
          expectRefused(res);
          expect(await audit()).toEqual(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses an action with one bad target field, naming that field', async () => {
    const before = await audit();
    const badTarget = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('cluster', 'namespace', 'name'),
          fc.oneof(fc.constant(''), nonString, fc.constant(undefined)),
        )
        .map(([field, value]) => ({
          target: mutate(TARGET, field, value),
          mentions: new RegExp(`target.*${field}`),
        })),
      fc
        .oneof(
          // Flux kinds only, spelled as Flux does.
          fc.constantFrom('kustomization', 'Secret', 'Deployment', ''),
          text(),
          nonString,
        )
        .filter(kind => !FLUX_KINDS.includes(kind as string))
        .map(kind => ({
          target: mutate(TARGET, 'kind', kind),
          mentions: /target.kind/,
        })),
      unknownKey.map(key => ({
        target: mutate(TARGET, key, 'x'),
        mentions: /target must NOT have additional properties/,
      })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('reconcile', 'suspend', 'resume'),
        badTarget,
        async (action, { target: bad, mentions }) => {
          const res = await call(
            'post',
            `/entities/component/default/web/${action}`,
            { body: { target: bad } },
          );
          expect(res.status).toBe(400);
          expectRefused(res, mentions);
          expect(await audit()).toEqual(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses any token creation with a 4xx naming the problem, creating nothing', async () => {
    const tokens = async () => (await call('get', '/tokens')).body.items;
    const before = await tokens();
    const base = { repository: DELIVERY_URL, purpose: 'read' };
    const mutations = fc.oneof(
      mutation(
        'repository',
        fc.oneof(badRepositoryUrl, nonString),
        /URL|repository/,
      ),
      mutation(
        'repository',
        fc.constant(`${DELIVERY_URL}/${'a'.repeat(2048)}`),
      ),
      mutation(
        'purpose',
        fc.oneof(
          text().filter(p => !['read', 'commit-status'].includes(p)),
          nonString,
          fc.constant(undefined),
        ),
      ),
      extraKey,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyBody.map(body => ({ body, expected: ANY_REFUSAL })),
          mutations.map(({ field, value, expected }) => ({
            body: mutate(base, field, value),
            expected: [expected],
          })),
        ),
        async ({ body, expected }) => {
          const res = await call('post', '/tokens', { body });
          expectOneOf(res, expected);
          expect(await tokens()).toEqual(before);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses a Flux bootstrap with one bad field before anything else, naming it', async () => {
    const listed = async () =>
      (await call('get', '/delivery-repositories')).body.items;
    const before = await listed();
    const base = {
      entityRef: WEB,
      url: DELIVERY_URL,
      clusters: [{ name: 'dev', path: 'apps/web' }],
    };
    // The base itself is refused only for its cluster: the backend has none.
    const control = await call('post', '/flux/bootstrap', { body: base });
    expect(control.status).toBe(400);
    expectRefused(control, /Unknown cluster "dev"/);

    const badPath = fc.oneof(
      fc
        .tuple(fc.constantFrom('', './', '/'), dotSegmentPath)
        .filter(([, path]) => path.split('/').includes('..'))
        .map(([prefix, path]) => `${prefix}${path}`),
      // Absolute: the Kustomization's path is relative to the repository root.
      segment.map(s => `/${s}/x`),
      fc
        .tuple(segment, fc.constantFrom(' ', '~', ':', '\\', '\0', 'é', '*'))
        .map(([s, bad]) => `${s}/a${bad}b`),
      fc.constant('a'.repeat(1025)),
      nonString,
    );
    const mutations = fc.oneof(
      entityRefMutation,
      mutation(
        'url',
        fc.oneof(
          badRepositoryUrl,
          localRepositoryUrl,
          nonString,
          // A repository, but only HTTP(S) Git and OCI are bootstrapped.
          fc.constantFrom(
            'ssh://git@gitlab.example.com/team/delivery.git',
            'git@gitlab.example.com:team/delivery.git',
          ),
        ),
        /URL/i,
      ),
      mutation(
        'clusters',
        badPath.map(path => [{ name: 'dev', path }]),
        /path/,
      ),
      mutation(
        'clusters',
        fc.oneof(
          fc.constant([]),
          fc.constant([
            { name: 'dev', path: 'a' },
            { name: 'dev', path: 'b' },
          ]),
          fc.constant([{ name: '', path: 'a' }]),
          fc.constant([{ name: 'dev' }]),
          fc.constant([{ name: 'dev', path: 'a', extra: true }]),
          nonString,
        ),
      ),
      mutation(
        'ref',
        fc.oneof(
          fc.constantFrom('', 'a..b', 'main branch', 'a'.repeat(256), 'x~1'),
          nonString,
        ),
      ),
      mutation(
        'interval',
        fc.oneof(
          fc.constantFrom('', '10', 'ten minutes', '-1m', '1d', '1.m'),
          nonString,
        ),
      ),
      mutation(
        'name',
        fc.oneof(
          fc.constantFrom(
            '',
            'Web',
            'web_app',
            '-web',
            'web.app',
            'a'.repeat(64),
          ),
          nonString,
        ),
      ),
      mutation('dryRun', nonBoolean),
      mutation('insecure', nonBoolean),
      mutation('credential', nonBoolean),
      extraKey,
    );
    await fc.assert(
      fc.asyncProperty(mutations, async ({ field, value, expected }) => {
        const body = mutate(base, field, value);
        const res = await call('post', '/flux/bootstrap', { body });
        expect(res.status).toBe(expected.status);
        expectRefused(res, expected.mentions);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('refuses any Flux bootstrap body, registering nothing', async () => {
    const listed = async () =>
      (await call('get', '/delivery-repositories')).body.items;
    const before = await listed();
    await fc.assert(
      fc.asyncProperty(anyBody, async body => {
        const res = await call('post', '/flux/bootstrap', { body });
        expectRefused(res);
        expect(await listed()).toEqual(before);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('refuses any CI notification with a 4xx naming the problem', async () => {
    const base = {
      repository: 'oci://registry.example.com/team/delivery',
      tag: '1.0.0',
    };
    // The base is refused only because no such delivery repository is registered.
    const control = await call('post', '/notify', {
      body: base,
      auth: SERVICE,
    });
    expect(control.status).toBe(404);
    expectRefused(control, /not a registered delivery repository/);

    const hex = (length: number) =>
      fc.string({
        unit: fc.constantFrom(...'0123456789abcdef'),
        minLength: length,
        maxLength: length,
      });
    const mutations = fc.oneof(
      mutation(
        'repository',
        fc.oneof(badRepositoryUrl, nonString),
        /URL|repository/,
      ),
      mutation(
        'commit',
        fc.oneof(
          hex(39),
          hex(41),
          hex(40).map(sha => sha.toUpperCase().replace(/^./, 'G')),
          fc.constant(''),
          nonString,
        ),
      ),
      mutation(
        'tag',
        fc.oneof(
          fc.constantFrom('', '.1', '-1', 'a b', 'a/b', 'a'.repeat(129)),
          nonString,
        ),
      ),
      mutation(
        'digest',
        fc.oneof(
          hex(64),
          hex(63).map(h => `sha256:${h}`),
          hex(64).map(h => `sha512:${h}`),
          nonString,
        ),
      ),
      extraKey,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyBody.map(body => ({ body, expected: ANY_REFUSAL })),
          mutations.map(({ field, value, expected }) => ({
            body: mutate(base, field, value),
            expected: [expected],
          })),
          // A tag or digest names an OCI artifact, never a Git repository.
          fc
            .constantFrom(DELIVERY_URL, 'git@gitlab.example.com:team/app.git')
            .map(repository => ({
              body: { ...base, repository },
              expected: [
                { status: 400, mentions: /tag and digest name OCI artifacts/ },
              ],
            })),
        ),
        async ({ body, expected }) => {
          const res = await call('post', '/notify', { body, auth: SERVICE });
          expectOneOf(res, expected);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---- 4. Path and query parameters --------------------------------------------------

describe('path and query parameters', () => {
  const param = text(30).filter(s => s.length > 0);

  it('answers arbitrary entity path segments with 400 or 404, never 5xx', async () => {
    const routes = fc.constantFrom(
      ['get', 'status', undefined],
      ['get', 'receivers', undefined],
      ['get', 'tokens', undefined],
      ['get', 'audit', undefined],
      ['post', 'reconcile', {}],
      ['post', 'suspend', { target: TARGET }],
      ['post', 'resume', { target: TARGET }],
    );
    await fc.assert(
      fc.asyncProperty(
        routes,
        param,
        param,
        param.filter(name => !/web/i.test(name)),
        async ([method, route, body], kind, namespace, name) => {
          const res = await call(
            method as 'get' | 'post',
            `/entities/${[kind, namespace, name]
              .map(encodeURIComponent)
              .join('/')}/${route}`,
            { body },
          );
          const expected = refusalOfEntityRef(`${kind}:${namespace}/${name}`);
          expect(res.status).toBe(expected.status);
          expectRefused(res, expected.mentions);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers a malformed %-escape in a path with 400', async () => {
    const escape = fc.constantFrom(
      '%',
      '%zz',
      '%E0%A4%A',
      '%C0%AF',
      '%ED%A0%80',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<[Method, (s: string) => string]>(
          ['get', s => `/entities/${s}/default/web/status`],
          ['get', s => `/entities/component/${s}/web/audit`],
          ['get', s => `/operations/${s}`],
          ['post', s => `/tokens/${s}/rotate`],
          ['delete', s => `/delivery-repositories/${s}`],
          ['delete', s => `/clusters/${s}`],
        ),
        segment,
        escape,
        async ([method, path], prefix, bad) => {
          const res = await call(method, path(`${prefix}${bad}`));
          expect(res.status).toBe(400);
          // The parameter is not named, only that the URI is malformed (see report).
          expectRefused(res, /uri/i);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  // DELETE among them: afterEach checks that nothing was removed.
  it('answers arbitrary ids with 4xx naming the id, removing nothing', async () => {
    const hex20 = fc.string({
      unit: fc.constantFrom(...'0123456789abcdef'),
      minLength: 20,
      maxLength: 20,
    });
    const routes = fc.constantFrom(
      ['get', '/operations/'],
      ['post', '/tokens/', '/rotate'],
      ['delete', '/delivery-repositories/'],
      ['delete', '/clusters/'],
    );
    await fc.assert(
      fc.asyncProperty(
        routes,
        fc.oneof(param, hex20, fc.uuid()),
        async ([method, prefix, suffix = ''], id) => {
          const res = await call(
            method as 'get' | 'post' | 'delete',
            `${prefix}${encodeURIComponent(id)}${suffix}`,
          );
          expect([400, 404]).toContain(res.status);
          // Names the id itself, or that it is not one.
          expectRefused(res);
          expect(
            res.body.error.message.includes(id) ||
              /is not a token id/.test(res.body.error.message),
          ).toBe(true);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers arbitrary queries of the list routes with 200 or a 400 naming the parameter', async () => {
    const key = fc.oneof(
      fc.constantFrom(
        'entityRef',
        'cluster',
        'limit',
        'entityRef[]',
        'entityRef[x]',
        'cluster[]',
      ),
      fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/),
    );
    const value = fc.oneof(
      text(),
      fc.constantFrom('', WEB, 'component:default/nope', 'x'.repeat(2000)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/delivery-repositories', '/tokens', '/receivers'),
        fc.array(fc.tuple(key, value), { maxLength: 3 }),
        async (path, pairs) => {
          const query = pairs
            .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
            .join('&');
          const res = await call('get', `${path}?${query}`);
          expect([200, 400]).toContain(res.status);
          // A list, or a refusal naming one of the parameters sent (as named before any `[`).
          const names = pairs.map(([k]) => k.replace(/\[.*$/, ''));
          expect(
            res.status === 200
              ? Array.isArray(res.body.items)
              : res.body.error?.name === 'InputError' &&
                  names.some(name => res.body.error.message.includes(name)),
          ).toBe(true);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
