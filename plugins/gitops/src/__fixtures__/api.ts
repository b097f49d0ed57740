import { GitOpsApi } from '../api';
import {
  auditRecords,
  receivers,
  status,
  tokenFindings,
  tokens,
} from './status';

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
    getTokens: jest.fn(async () => tokens),
    getTokenReport: jest.fn(async () => tokenFindings),
    getEntityTokens: jest.fn(async () => ({
      items: tokens,
      findings: tokenFindings,
    })),
    rotateToken: jest.fn(async () => ({
      ...tokens[0],
      id: 'c'.repeat(20),
      lastRotatedAt: '2026-11-25T10:00:00Z',
    })),
    createToken: jest.fn(async () => tokens[0]),
    ...overrides,
  } as jest.Mocked<GitOpsApi>;
}
