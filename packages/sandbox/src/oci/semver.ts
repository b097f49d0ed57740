/**
 * The subset of semver ranges Flux users write in `spec.ref.semver` (Flux uses
 * Masterminds/semver): exact and partial versions, `=`, `!=`, `>`, `>=`, `<`, `<=`, `~`,
 * `^`, wildcards `x`/`*`, AND with commas or spaces, OR with `||`. As in Masterminds,
 * a pre-release version only matches a range that names a pre-release.
 */

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
}

const VERSION =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?$/;

/** Parses a (possibly partial or `v`-prefixed) version; undefined when it is not semver. */
export function parseSemVer(text: string): SemVer | undefined {
  const match = VERSION.exec(text.trim());
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2] ?? 0),
    patch: Number(match[3] ?? 0),
    prerelease: match[4] ? match[4].split('.') : [],
  };
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return Math.sign(core);
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length);
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const order = comparePrereleaseIdentifier(x, y);
    if (order !== 0) return order;
  }
  return 0;
}

function comparePrereleaseIdentifier(x: string, y: string): number {
  const xNumeric = /^\d+$/.test(x);
  const yNumeric = /^\d+$/.test(y);
  if (xNumeric && yNumeric) return Math.sign(Number(x) - Number(y));
  if (xNumeric) return -1;
  if (yNumeric) return 1;
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '^';

interface Comparator {
  operator: Operator;
  /** The version with missing or wildcard parts set to 0. */
  base: SemVer;
  /** How many leading parts were given (0 for `*`). */
  specified: 0 | 1 | 2 | 3;
}

export interface SemVerRange {
  readonly text: string;
  test(version: SemVer): boolean;
}

const COMPARATOR =
  /(!=|>=|<=|=|>|<|~>|~|\^)?\s*(v?(?:\d+|[xX*])(?:\.(?:\d+|[xX*]))?(?:\.(?:\d+|[xX*]))?(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-.]+)?)/y;

/** Parses a range; throws an Error naming the range when it cannot be understood. */
export function parseSemVerRange(text: string): SemVerRange {
  const alternatives = text
    .split('||')
    .map(part => parseConjunction(part, text));
  return {
    text,
    test: version =>
      alternatives.some(comparators => satisfiesAll(version, comparators)),
  };
}

function parseConjunction(part: string, whole: string): Comparator[] {
  const comparators: Comparator[] = [];
  let position = 0;
  const skipSeparators = () => {
    while (position < part.length && /[\s,]/.test(part[position])) position++;
  };
  skipSeparators();
  while (position < part.length) {
    COMPARATOR.lastIndex = position;
    const match = COMPARATOR.exec(part);
    if (!match) {
      throw new Error(`invalid semver range '${whole}'`);
    }
    comparators.push(toComparator(match[1], match[2]));
    position = COMPARATOR.lastIndex;
    skipSeparators();
  }
  if (comparators.length === 0) {
    throw new Error(`invalid semver range '${whole}'`);
  }
  return comparators;
}

function toComparator(
  operatorText: string | undefined,
  versionText: string,
): Comparator {
  const [core, prerelease] = splitPrerelease(versionText.replace(/^v/, ''));
  const parts = core.split('.');
  const wildcardAt = parts.findIndex(p => /^[xX*]$/.test(p));
  const specified = (wildcardAt === -1 ? parts.length : wildcardAt) as
    | 0
    | 1
    | 2
    | 3;
  const numbers = parts.map(p => (/^\d+$/.test(p) ? Number(p) : 0));
  const base: SemVer = {
    major: specified > 0 ? numbers[0] : 0,
    minor: specified > 1 ? numbers[1] : 0,
    patch: specified > 2 ? numbers[2] : 0,
    prerelease: specified === 3 && prerelease ? prerelease.split('.') : [],
  };
  const operator: Operator =
    operatorText === '~>' ? '~' : (operatorText as Operator | undefined) ?? '=';
  return { operator, base, specified };
}

function splitPrerelease(version: string): [string, string | undefined] {
  const withoutBuild = version.split('+')[0];
  const dash = withoutBuild.indexOf('-');
  return dash === -1
    ? [withoutBuild, undefined]
    : [withoutBuild.slice(0, dash), withoutBuild.slice(dash + 1)];
}

function satisfiesAll(version: SemVer, comparators: Comparator[]): boolean {
  if (
    version.prerelease.length > 0 &&
    !comparators.some(c => c.base.prerelease.length > 0)
  ) {
    return false;
  }
  return comparators.every(c => satisfies(version, c));
}

/** The first version above the range a partial version names (`1.2` → `1.3.0`). */
function bumpSpecified(base: SemVer, specified: number): SemVer {
  if (specified <= 1)
    return { major: base.major + 1, minor: 0, patch: 0, prerelease: [] };
  if (specified === 2) {
    return {
      major: base.major,
      minor: base.minor + 1,
      patch: 0,
      prerelease: [],
    };
  }
  return { ...base, patch: base.patch + 1, prerelease: [] };
}

function caretUpperBound(base: SemVer, specified: number): SemVer {
  if (base.major > 0 || specified <= 1) return bumpSpecified(base, 1);
  if (base.minor > 0 || specified === 2) return bumpSpecified(base, 2);
  return bumpSpecified(base, 3);
}

function satisfies(
  version: SemVer,
  { operator, base, specified }: Comparator,
): boolean {
  if (specified === 0)
    return operator !== '!=' && operator !== '<' && operator !== '>';
  const partial = specified < 3;
  const cmpBase = compareSemVer(version, base);
  const within = (upper: SemVer) =>
    cmpBase >= 0 && compareSemVer(version, upper) < 0;
  switch (operator) {
    case '=':
      return partial ? within(bumpSpecified(base, specified)) : cmpBase === 0;
    case '!=':
      return partial ? !within(bumpSpecified(base, specified)) : cmpBase !== 0;
    case '>':
      return partial
        ? compareSemVer(version, bumpSpecified(base, specified)) >= 0
        : cmpBase > 0;
    case '>=':
      return cmpBase >= 0;
    case '<':
      return cmpBase < 0;
    case '<=':
      return partial
        ? compareSemVer(version, bumpSpecified(base, specified)) < 0
        : cmpBase <= 0;
    case '~':
      return within(bumpSpecified(base, Math.min(specified, 2)));
    case '^':
      return within(caretUpperBound(base, specified));
    default:
      return false;
  }
}

/** The highest tag whose version satisfies the range, with the tag as written. */
export function selectHighestTag(
  tags: string[],
  range: string,
): string | undefined {
  const parsedRange = parseSemVerRange(range);
  let best: { tag: string; version: SemVer } | undefined;
  for (const tag of tags) {
    const version = parseSemVer(tag);
    if (!version || !parsedRange.test(version)) continue;
    if (!best || compareSemVer(version, best.version) > 0)
      best = { tag, version };
  }
  return best?.tag;
}
