import {
  commitStatusDescription,
  defaultCommitStatusName,
  eventRevision,
  parseGitAddress,
  parseRevision,
  splitCamelCase,
} from './commitStatus';
import type { FluxEvent } from '../fluxEvent';

const SHA1 = '0123456789abcdef0123456789abcdef01234567';
const SHA256 = 'b'.repeat(64);

function event(kind: string, name: string, reason: string): FluxEvent {
  return {
    involvedObject: { kind, name, namespace: 'flux-system' },
    severity: 'info',
    timestamp: '2024-01-01T00:00:00Z',
    message: '',
    reason,
    metadata: {},
    reportingController: 'kustomize-controller',
  };
}

describe('commit status helpers', () => {
  it('extracts the digest after the last @ of Flux revisions', () => {
    expect(parseRevision(`main@sha1:${SHA1}`)).toBe(SHA1);
    expect(parseRevision(`refs/heads/feature@x@sha1:${SHA1}`)).toBe(SHA1);
    expect(parseRevision(`v1.0.0@sha1:${SHA1}`)).toBe(SHA1);
    expect(parseRevision(`sha1:${SHA1}`)).toBe(SHA1);
    expect(parseRevision(`latest@sha256:${SHA256}`)).toBe(SHA256);
    expect(parseRevision(`main/${SHA1}`)).toBe(SHA1);
    expect(() => parseRevision('main@sha1:abc')).toThrow(
      "failed to extract commit hash from 'main@sha1:abc' revision",
    );
  });

  it('takes commit, then originRevision, then revision', () => {
    expect(
      eventRevision({ revision: 'r', originRevision: 'o', commit: 'c' }),
    ).toBe('c');
    expect(eventRevision({ revision: 'r', originRevision: 'o' })).toBe('o');
    expect(eventRevision({ revision: 'r' })).toBe('r');
    expect(eventRevision({})).toBeUndefined();
  });

  it('describes reasons in lower-case words and names statuses per provider', () => {
    expect(splitCamelCase('PDFLoader')).toEqual(['PDF', 'Loader']);
    expect(
      commitStatusDescription(
        event('Kustomization', 'apps', 'ReconciliationSucceeded'),
      ),
    ).toBe('reconciliation succeeded');
    expect(
      commitStatusDescription(
        event('Kustomization', 'apps', 'HealthCheckFailed'),
      ),
    ).toBe('health check failed');
    expect(
      defaultCommitStatusName(
        '2b1c7a3e-1111-2222-3333-444455556666',
        event('Kustomization', 'My-Apps', 'X'),
      ),
    ).toBe('kustomization/my-apps/2b1c7a3e');
  });

  it('finds the API host and project path of HTTP and SSH addresses', () => {
    expect(
      parseGitAddress('https://gitlab.example.com/group/sub/app.git'),
    ).toEqual({
      host: 'https://gitlab.example.com',
      id: 'group/sub/app',
    });
    expect(parseGitAddress('http://127.0.0.1:8080/group/app')).toEqual({
      host: 'http://127.0.0.1:8080',
      id: 'group/app',
    });
    expect(
      parseGitAddress('ssh://git@gitlab.example.com/group/app.git'),
    ).toEqual({
      host: 'https://gitlab.example.com',
      id: 'group/app',
    });
    expect(parseGitAddress('git@gitlab.example.com:group/app.git')).toEqual({
      host: 'https://gitlab.example.com',
      id: 'group/app',
    });
  });
});
