import { GitOpsApi } from '../api';
import { auditRecords, receivers, status } from './status';

/** A GitOps API answering with the fixtures; every method a jest mock to override. */
export function fakeGitOpsApi(
  overrides: Partial<GitOpsApi> = {},
): jest.Mocked<GitOpsApi> {
  return {
    getHealth: jest.fn(async () => ({ status: 'ok' })),
    getStatus: jest.fn(async () => status),
    reconcile: jest.fn(async () => []),
    suspend: jest.fn(async () => []),
    resume: jest.fn(async () => []),
    getOperation: jest.fn(async () => {
      throw new Error('no operation');
    }),
    getAudit: jest.fn(async () => auditRecords),
    getReceivers: jest.fn(async () => receivers),
    ...overrides,
  } as jest.Mocked<GitOpsApi>;
}
