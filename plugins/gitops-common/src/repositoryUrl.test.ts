import { InvalidRepositoryUrlError, parseRepositoryUrl } from './repositoryUrl';

describe('parseRepositoryUrl', () => {
  it.each([
    'https://gitlab.example.com/team/delivery.git',
    'https://GitLab.Example.com/team/delivery',
    'https://gitlab.example.com:443/team/delivery/',
    'ssh://git@gitlab.example.com/team/delivery.git',
    'ssh://git@gitlab.example.com:22/team/delivery',
    'git@gitlab.example.com:team/delivery.git',
  ])('normalizes %s to the same repository', url => {
    expect(parseRepositoryUrl(url)).toEqual({
      kind: 'git',
      host: 'gitlab.example.com',
      path: 'team/delivery',
      normalized: 'git:gitlab.example.com/team/delivery',
    });
  });

  it('keeps a non-default port and nested groups', () => {
    expect(
      parseRepositoryUrl('http://127.0.0.1:7101/group/sub/app.git').normalized,
    ).toBe('git:127.0.0.1:7101/group/sub/app');
  });

  it('parses OCI URLs, ignoring a tag or digest', () => {
    const expected = 'oci:registry.example.com/team/app';
    expect(
      parseRepositoryUrl('oci://registry.example.com/team/app').normalized,
    ).toBe(expected);
    expect(
      parseRepositoryUrl('oci://registry.example.com/team/app:1.2.3')
        .normalized,
    ).toBe(expected);
    expect(
      parseRepositoryUrl(
        `oci://registry.example.com/team/app@sha256:${'a'.repeat(64)}`,
      ).normalized,
    ).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['ftp://example.com/a', /unsupported scheme ftp/],
    ['https://example.com/', /must name a repository/],
    ['https://example.com/team/../x', /must name a repository/],
    ['https://example.com/a?b=c', /query and fragment/],
    ['just-a-word', /expected https/],
    ['https://gitlab.example.com/team/%zz', /malformed %-escape/],
    ['git@gitlab.example.com:team/%E0%A4%A', /malformed %-escape/],
    ['https://gitlab.example.com/te\u0000am/app', /control characters/],
    ['https://gitlab.example.com/team/a%00pp', /control characters/],
    ['git@gitlab.example.com:team/\napp.git', /control characters/],
  ])('rejects %j', (url, message) => {
    expect(() => parseRepositoryUrl(url)).toThrow(InvalidRepositoryUrlError);
    expect(() => parseRepositoryUrl(url)).toThrow(message);
  });
});
