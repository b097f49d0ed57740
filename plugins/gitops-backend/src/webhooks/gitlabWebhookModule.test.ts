import { mockServices } from '@backstage/backend-test-utils';
import { RequestDetails } from '@backstage/plugin-events-node';
import {
  constantTimeEquals,
  createConstantTimeGitlabTokenValidator,
} from './gitlabWebhookModule';

const SECRET = 'a-webhook-secret';

async function verdict(
  headers: RequestDetails['headers'],
): Promise<{ status: number } | 'accepted'> {
  const validator = createConstantTimeGitlabTokenValidator(
    mockServices.rootConfig({
      data: { events: { modules: { gitlab: { webhookSecret: SECRET } } } },
    }),
  );
  let rejected: { status: number } | undefined;
  await validator!({ body: {}, headers } as RequestDetails, {
    reject: details => {
      rejected = { status: details?.status ?? 403 };
    },
  });
  return rejected ?? 'accepted';
}

describe('createConstantTimeGitlabTokenValidator', () => {
  it('accepts the secret and refuses anything else with 403', async () => {
    await expect(verdict({ 'x-gitlab-token': SECRET })).resolves.toBe(
      'accepted',
    );
    for (const headers of [
      { 'x-gitlab-token': 'wrong' },
      { 'x-gitlab-token': SECRET.slice(0, -1) },
      { 'x-gitlab-token': `${SECRET} ` },
      { 'x-gitlab-token': [SECRET, SECRET] },
      {},
    ]) {
      await expect(verdict(headers)).resolves.toEqual({ status: 403 });
    }
  });

  it('makes no ingress without a configured secret', () => {
    expect(
      createConstantTimeGitlabTokenValidator(
        mockServices.rootConfig({ data: {} }),
      ),
    ).toBeUndefined();
  });

  it('compares strings of any length', () => {
    expect(constantTimeEquals('abc', 'abc')).toBe(true);
    expect(constantTimeEquals('abc', 'abcd')).toBe(false);
    expect(constantTimeEquals('', '')).toBe(true);
  });
});
