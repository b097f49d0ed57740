import { parseSemVer, parseSemVerRange, selectHighestTag } from './semver';

const matches = (range: string, version: string) =>
  parseSemVerRange(range).test(parseSemVer(version)!);

describe('semver ranges', () => {
  it.each([
    ['>=1.0.0', '1.0.0', true],
    ['>=1.0.0', '0.9.9', false],
    ['>1.2', '1.2.9', false],
    ['>1.2', '1.3.0', true],
    ['<=1.2', '1.2.9', true],
    ['<2.0.0', '2.0.0', false],
    ['1.x', '1.99.0', true],
    ['1.x', '2.0.0', false],
    ['1.2.x', '1.2.5', true],
    ['*', '3.4.5', true],
    ['^1.2.0', '1.9.0', true],
    ['^1.2.0', '1.1.9', false],
    ['^1.2.0', '2.0.0', false],
    ['^0.2.3', '0.2.9', true],
    ['^0.2.3', '0.3.0', false],
    ['^0.0.3', '0.0.4', false],
    ['~1.2.0', '1.2.9', true],
    ['~1.2.0', '1.3.0', false],
    ['~1', '1.9.0', true],
    ['1.2.3', '1.2.3', true],
    ['=1.2.3', 'v1.2.3', true],
    ['1.2.3', '1.2.4', false],
    ['!=1.2.3', '1.2.4', true],
    ['>=1.0.0, <1.5.0', '1.4.0', true],
    ['>=1.0.0 <1.5.0', '1.5.0', false],
    ['<1.0.0 || >=2.0.0', '2.1.0', true],
    ['<1.0.0 || >=2.0.0', '1.1.0', false],
    ['>=1.0.0', '1.1.0-rc.1', false],
    ['>=1.1.0-rc.0', '1.1.0-rc.1', true],
    ['>=1.1.0-rc.2', '1.1.0-rc.10', true],
  ])('%s against %s is %s', (range, version, expected) => {
    expect(matches(range, version)).toBe(expected);
  });

  it('picks the highest matching tag and ignores non-semver tags', () => {
    expect(
      selectHighestTag(
        ['latest', 'v1.2.0', '1.10.0', '1.9.0', 'main-abc'],
        '1.x',
      ),
    ).toBe('1.10.0');
    expect(selectHighestTag(['latest'], '>=0.0.0')).toBeUndefined();
  });

  it('rejects ranges it cannot read', () => {
    expect(() => parseSemVerRange('>= banana')).toThrow(/invalid semver range/);
    expect(() => parseSemVerRange('')).toThrow(/invalid semver range/);
  });
});
