export function apiVersionOf(type: { group: string; version: string }): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function splitApiVersion(apiVersion: string): {
  group: string;
  version: string;
} {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : {
        group: apiVersion.slice(0, slash),
        version: apiVersion.slice(slash + 1),
      };
}

const PRE_RELEASE_STABILITY: Record<string, number> = { alpha: 0, beta: 1 };

function versionRank(version: string): [number, number, number] | undefined {
  const match = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(version);
  if (!match) return undefined;
  const stability = match[2] ? PRE_RELEASE_STABILITY[match[2]] : 2;
  return [stability, Number(match[1]), Number(match[3] ?? 0)];
}

/**
 * Kubernetes version priority (GA before beta before alpha, then higher numbers first):
 * negative when `a` is preferred over `b`.
 */
export function compareVersionPriority(a: string, b: string): number {
  const rankA = versionRank(a);
  const rankB = versionRank(b);
  if (!rankA || !rankB) {
    if (rankA) return -1;
    if (rankB) return 1;
    return a.localeCompare(b);
  }
  for (let i = 0; i < 3; i++) {
    if (rankA[i] !== rankB[i]) return rankB[i] - rankA[i];
  }
  return 0;
}
