import type { FluxEvent } from '../fluxEvent';

/** The Git commit a Flux event is about: `commit`, then `originRevision`, then `revision`. */
export function eventRevision(
  metadata: Record<string, string>,
): string | undefined {
  return metadata.commit ?? metadata.originRevision ?? metadata.revision;
}

/**
 * fluxcd/pkg/git's ExtractHashFromRevision: the digest after the last `@` (or, for the legacy
 * `<branch>/<hash>` form, after the last `/`), without its `sha1:`/`sha256:` prefix.
 */
export function parseRevision(revision: string): string {
  let digest = revision;
  const at = revision.lastIndexOf('@');
  if (at !== -1) {
    digest = revision.slice(at + 1);
  } else if (!revision.includes(':') && revision.includes('/')) {
    digest = revision.slice(revision.lastIndexOf('/') + 1);
  }
  digest = digest.slice(digest.indexOf(':') + 1);
  if (!/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(digest)) {
    throw new Error(
      `failed to extract commit hash from '${revision}' revision`,
    );
  }
  return digest;
}

type CharClass = 'lower' | 'upper' | 'digit' | 'other';

function charClass(char: string): CharClass {
  if (/\p{Ll}/u.test(char)) return 'lower';
  if (/\p{Lu}/u.test(char)) return 'upper';
  if (/\p{Nd}/u.test(char)) return 'digit';
  return 'other';
}

/** The notifier's splitCamelcase: "HealthCheckFailed" → ["Health", "Check", "Failed"]. */
export function splitCamelCase(source: string): string[] {
  const runs: string[][] = [];
  let lastClass: CharClass | undefined;
  for (const char of source) {
    const current = charClass(char);
    if (current === lastClass) {
      runs[runs.length - 1].push(char);
    } else {
      runs.push([char]);
    }
    lastClass = current;
  }
  // An upper-case run followed by a lower-case one gives its last letter away: "PDFLoader".
  for (let i = 0; i < runs.length - 1; i++) {
    if (
      charClass(runs[i][0]) === 'upper' &&
      charClass(runs[i + 1][0]) === 'lower'
    ) {
      runs[i + 1].unshift(runs[i].pop()!);
    }
  }
  return runs.filter(run => run.length > 0).map(run => run.join(''));
}

/** The commit status description: the event reason in lower-case words. */
export function commitStatusDescription(event: FluxEvent): string {
  return splitCamelCase(event.reason).join(' ').toLowerCase();
}

/** `<kind>/<name>/<first segment of the Provider uid>`, lower-cased: unique per cluster. */
export function defaultCommitStatusName(
  providerUid: string,
  event: FluxEvent,
): string {
  const uidPrefix = providerUid.split('-')[0];
  return `${event.involvedObject.kind}/${event.involvedObject.name}/${uidPrefix}`.toLowerCase();
}

/** The notifier's parseGitAddress: API host and project path of a Git HTTP(S) or SSH URL. */
export function parseGitAddress(address: string): { host: string; id: string } {
  const scpLike = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.*)$/.exec(address);
  let scheme: string;
  let host: string;
  let path: string;
  if (scpLike && !/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) {
    scheme = 'ssh';
    host = scpLike[1];
    path = scpLike[2];
  } else {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new Error(`failed parsing URL ${JSON.stringify(address)}`);
    }
    scheme = url.protocol.slice(0, -1);
    host = url.host;
    path = decodeURIComponent(url.pathname);
  }
  const id = path.replace(/^\/+/, '').replace(/\.git$/, '');
  return { host: `${scheme === 'ssh' ? 'https' : scheme}://${host}`, id };
}
