/**
 * Flux's `.sourceignore` rules (gitignore syntax, as go-git matches it): the default
 * exclusions source-controller applies to every Git and OCI artifact, `.sourceignore`
 * at the root of the content, and `spec.ignore`.
 */

const EXCLUDE_VCS = ['.git/', '.gitignore', '.gitmodules', '.gitattributes'];
const EXCLUDE_EXT = [
  '*.jpg',
  '*.jpeg',
  '*.gif',
  '*.png',
  '*.wmv',
  '*.flv',
  '*.tar.gz',
  '*.zip',
];
const EXCLUDE_CI = [
  '.github/',
  '.circleci/',
  '.travis.yml',
  '.gitlab-ci.yml',
  'appveyor.yml',
  '.drone.yml',
  'cloudbuild.yaml',
  'codeship-services.yml',
  'codeship-steps.yml',
];
const EXCLUDE_EXTRA = ['**/.goreleaser.yml', '**/.sops.yaml', '**/.flux.yaml'];

export const DEFAULT_IGNORE_PATTERNS = [
  ...EXCLUDE_VCS,
  ...EXCLUDE_EXT,
  ...EXCLUDE_CI,
  ...EXCLUDE_EXTRA,
];

interface Pattern {
  negate: boolean;
  dirOnly: boolean;
  /** Path segments; a single segment without `/` in the source matches at any depth. */
  segments: Array<RegExp | 'doublestar'>;
  anywhere: boolean;
}

/** filepath.Match-style glob for one path segment. */
function segmentRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        source += '\\[';
      } else {
        source += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (char === '\\' && i + 1 < glob.length) {
      source += `\\${glob[++i]}`;
    } else source += char.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function parsePattern(line: string): Pattern | undefined {
  let text = line.replace(/\s+$/, '');
  if (text === '' || text.startsWith('#')) return undefined;
  let negate = false;
  if (text.startsWith('!')) {
    negate = true;
    text = text.slice(1);
  }
  const dirOnly = text.endsWith('/');
  text = text.replace(/\/+$/, '');
  const anywhere = !text.includes('/');
  text = text.replace(/^\//, '');
  const segments = text
    .split('/')
    .map(part =>
      part === '**' ? ('doublestar' as const) : segmentRegExp(part),
    );
  return { negate, dirOnly, segments, anywhere };
}

/** Whether the pattern matches the path or one of its directories (`accept` picks which). */
function matchSegments(
  segments: Array<RegExp | 'doublestar'>,
  path: string[],
  accept: (matchedLength: number) => boolean,
): boolean {
  const match = (si: number, pi: number): boolean => {
    if (si === segments.length) return accept(pi);
    const segment = segments[si];
    if (segment === 'doublestar') {
      for (let skip = pi; skip <= path.length; skip++) {
        if (match(si + 1, skip)) return true;
      }
      return false;
    }
    if (pi >= path.length) return false;
    return segment.test(path[pi]) && match(si + 1, pi + 1);
  };
  return match(0, 0);
}

function patternMatches(
  pattern: Pattern,
  path: string[],
  isDir: boolean,
): boolean {
  if (pattern.anywhere) {
    const single = pattern.segments[0] as RegExp;
    return path.some((name, index) => {
      if (!single.test(name)) return false;
      return !(pattern.dirOnly && !isDir && index === path.length - 1);
    });
  }
  // A directory-only rule matches a file only through one of the file's directories.
  const fileItself = pattern.dirOnly && !isDir;
  return matchSegments(pattern.segments, path, matched =>
    fileItself ? matched > 0 && matched < path.length : matched > 0,
  );
}

export class SourceIgnoreMatcher {
  private readonly patterns: Pattern[];

  constructor(lines: readonly string[]) {
    this.patterns = lines
      .map(parsePattern)
      .filter((p): p is Pattern => p !== undefined);
  }

  /** The default Flux exclusions followed by the given extra pattern text. */
  static withDefaults(
    ...extra: Array<string | undefined>
  ): SourceIgnoreMatcher {
    return new SourceIgnoreMatcher([
      ...DEFAULT_IGNORE_PATTERNS,
      ...extra.flatMap(text => (text ? text.split('\n') : [])),
    ]);
  }

  /** Whether a relative path (with `/` separators) is excluded; the last matching rule wins. */
  ignores(relativePath: string, isDir: boolean): boolean {
    const path = relativePath.split('/').filter(Boolean);
    for (let i = this.patterns.length - 1; i >= 0; i--) {
      if (patternMatches(this.patterns[i], path, isDir))
        return !this.patterns[i].negate;
    }
    return false;
  }
}
