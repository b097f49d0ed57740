import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import {
  isLocalAddress,
  isNonPublicAddress,
  localAddressProblem,
  repositoryHostProblem,
} from './addresses';

describe('address classes', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    // The same addresses in IPv6 spellings that once slipped through.
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b::169.254.169.254',
  ])('%s is local', address => {
    expect(isLocalAddress(address)).toBe(true);
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each([
    '10.1.2.3',
    '192.168.0.1',
    '172.20.0.1',
    '100.64.0.1',
    'fd00::1',
    '::ffff:a01:203',
  ])('%s is private, not local', address => {
    expect(isLocalAddress(address)).toBe(false);
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each([
    '203.0.113.10',
    '2001:db8::1',
    '::ffff:cb00:710a',
    '64:ff9b::cb00:710a',
  ])('%s is public', address => {
    expect(isLocalAddress(address)).toBe(false);
    expect(isNonPublicAddress(address)).toBe(false);
  });

  it('refuses local hosts in URLs in any spelling, unless allowed', async () => {
    for (const url of [
      'https://[::ffff:169.254.169.254]/',
      'http://[::ffff:127.0.0.1]:9292/hook',
      'http://[::127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://localhost:7007/',
    ]) {
      expect(await localAddressProblem(url, [])).toMatch(
        /is a loopback or link-local address/,
      );
    }
    expect(
      await localAddressProblem('http://127.0.0.1:7101/', ['127.0.0.1']),
    ).toBeUndefined();
  });

  it('checks the host of every repository URL form, scp-like Git included', async () => {
    for (const url of [
      'git@127.0.0.1:team/app.git',
      'git@169.254.169.254:team/app.git',
      'ssh://git@[::1]:2222/team/app.git',
      'oci://127.0.0.1:5000/team/app',
      'https://[::ffff:7f00:1]:8443/team/app.git',
    ]) {
      expect(await repositoryHostProblem(parseRepositoryUrl(url), [])).toMatch(
        /is a loopback or link-local address/,
      );
    }
    expect(
      await repositoryHostProblem(
        parseRepositoryUrl('git@127.0.0.1:team/app.git'),
        ['127.0.0.1'],
      ),
    ).toBeUndefined();
  });
});
