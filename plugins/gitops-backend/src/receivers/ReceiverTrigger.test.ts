import { mockServices } from '@backstage/backend-test-utils';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import {
  RecordingServer,
  startRecordingServer,
} from '../__testUtils__/recordingServer';
import { GitOpsCluster } from '../clusters/types';
import {
  isFluxWebhookPath,
  receiverTarget,
  ReceiverTrigger,
} from './ReceiverTrigger';

const HEX = 'ab'.repeat(32);
const VALID = `/hook/${HEX}`;
const PROXY =
  '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy';

function clusterWith(
  receiverUrl: string,
  extra: Partial<GitOpsCluster> = {},
): GitOpsCluster {
  return {
    name: 'hostile',
    url: 'https://203.0.113.5:6443/',
    source: 'config',
    auth: { type: 'serviceAccount', token: 'cluster-token' },
    settings: {
      fluxNamespace: 'flux-system',
      receiverUrl,
      trustedServiceProxyPaths: [PROXY],
    },
    ...extra,
  };
}

const receiver = (name: string): ManagedReceiver =>
  ({
    cluster: 'hostile',
    namespace: 'flux-system',
    name,
    source: { kind: 'GitRepository', name: 'delivery' },
    repository: 'git:gitlab.example.com/team/delivery',
  } as ManagedReceiver);

describe('webhook paths and receiver URLs', () => {
  it('accepts only the path Flux writes: /hook/ and a hex sha256', () => {
    expect(isFluxWebhookPath(VALID)).toBe(true);
    for (const crafted of [
      '//evil.example/x',
      '/hook/../../api',
      '@127.0.0.2:9/',
      `/hook/${HEX.toUpperCase()}`,
      `/hook/${HEX}0`,
      `/hook/${HEX}?x=1`,
      `/hook/${HEX}#x`,
      `/hook/${HEX}/`,
      `/hook/${HEX}\n`,
      `/hook/${'g'.repeat(64)}`,
      `https://evil.example/hook/${HEX}`,
      '',
      'x'.repeat(100_000),
      42,
      null,
    ]) {
      expect(isFluxWebhookPath(crafted)).toBe(false);
    }
  });

  it('builds the URL below the configured base, and refuses anything else', () => {
    expect(
      receiverTarget(clusterWith('http://receiver.example/flux/'), VALID).url
        .href,
    ).toBe(`http://receiver.example/flux${VALID}`);
    expect(receiverTarget(clusterWith(PROXY), VALID)).toEqual({
      url: new URL(`https://203.0.113.5:6443${PROXY}${VALID}`),
      viaApiServer: true,
    });
    for (const crafted of ['//evil.example/x', '/hook/../../api', '@x:1/']) {
      expect(() =>
        receiverTarget(clusterWith('http://receiver.example'), crafted),
      ).toThrow(/not one Flux writes/);
    }
  });
});

describe('ReceiverTrigger with values a hostile cluster wrote', () => {
  let elsewhere: RecordingServer;
  let receiverServer: RecordingServer;

  beforeAll(async () => {
    elsewhere = await startRecordingServer();
    receiverServer = await startRecordingServer();
  });
  afterAll(async () => {
    await elsewhere.close();
    await receiverServer.close();
  });
  beforeEach(() => {
    elsewhere.requests.length = 0;
    receiverServer.requests.length = 0;
  });

  function triggerFor(
    cluster: GitOpsCluster,
    paths: Record<string, unknown>,
    logger = mockServices.logger.mock(),
  ) {
    const requestReconcile = jest.fn(async () => undefined);
    const trigger = new ReceiverTrigger({
      clusterOf: () => cluster,
      webhookPathOf: r => paths[r.name] as string | undefined,
      actionsFor: () => ({ requestReconcile } as any),
      store: { recordTrigger: async () => undefined },
      logger,
      retryDelayMs: 1,
    });
    return { trigger, requestReconcile, logger };
  }

  it('ignores a crafted webhook path, logs it once without the value, and falls back', async () => {
    const target = `${elsewhere.host}:${elsewhere.port}`;
    const crafted: Record<string, string> = {
      scheme: `//${target}/x`,
      traversal: '/hook/../../api',
      userinfo: `@${target}/`,
      huge: `/hook/${'a'.repeat(1_000_000)}`,
      upper: `/hook/${HEX.toUpperCase()}`,
    };
    const { trigger, requestReconcile, logger } = triggerFor(
      clusterWith(receiverServer.url),
      crafted,
    );
    for (const round of [1, 2]) {
      for (const name of Object.keys(crafted)) {
        expect(await trigger.trigger(receiver(name))).toEqual({
          result: 'fallback',
          message:
            'Flux has not reported its webhook path yet; requestedAt annotated',
        });
      }
      expect(requestReconcile).toHaveBeenCalledTimes(
        round * Object.keys(crafted).length,
      );
    }
    expect(elsewhere.requests).toEqual([]);
    expect(receiverServer.requests).toEqual([]);
    const warnings = logger.warn.mock.calls.map(([message]) => String(message));
    const malformed = warnings.filter(m => /reports a webhook path/.test(m));
    expect(malformed).toHaveLength(Object.keys(crafted).length);
    for (const message of malformed) {
      expect(message).not.toContain(target);
      expect(message).not.toContain('..');
      expect(message.length).toBeLessThan(400);
    }
  });

  it('calls a valid path on the configured receiver only', async () => {
    const { trigger } = triggerFor(clusterWith(`${receiverServer.url}/base/`), {
      ok: VALID,
    });
    expect(await trigger.trigger(receiver('ok'))).toEqual({
      result: 'succeeded',
    });
    expect(receiverServer.requests.map(r => [r.method, r.url])).toEqual([
      ['POST', `/base${VALID}`],
    ]);
    expect(elsewhere.requests).toEqual([]);
  });

  it('checks the address when connecting: a name that resolves to loopback is refused unless allowed', async () => {
    const policy = {
      refuse: 'local' as const,
      allowedHosts: [],
      allowKey: 'gitops.registration.dangerouslyAllowHosts',
    };
    for (const url of [
      `http://localhost:${receiverServer.port}`,
      receiverServer.url,
    ]) {
      const { trigger } = triggerFor(
        clusterWith(url, { connect: { receiver: policy } }),
        { ok: VALID },
      );
      const outcome = await trigger.trigger(receiver('ok'));
      expect(outcome.result).toBe('fallback');
      expect(outcome.message).toMatch(
        /loopback or link-local.*dangerouslyAllowHosts/,
      );
    }
    expect(receiverServer.requests).toEqual([]);

    const { trigger } = triggerFor(
      clusterWith(`http://localhost:${receiverServer.port}`, {
        connect: { receiver: { ...policy, allowedHosts: ['localhost'] } },
      }),
      { ok: VALID },
    );
    expect(await trigger.trigger(receiver('ok'))).toEqual({
      result: 'succeeded',
    });
    expect(receiverServer.requests).toHaveLength(1);
  });
});
