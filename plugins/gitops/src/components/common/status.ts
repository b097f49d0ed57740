import {
  ClusterStatus,
  FluxStatusItem,
  RepositoryStatus,
} from '@backstage-gitops/plugin-gitops-common';
import { DateTime } from 'luxon';

/** What a person reads off a Flux object at a glance. */
export type ObjectState =
  | 'Ready'
  | 'Progressing'
  | 'Failed'
  | 'Stalled'
  | 'Suspended';

/**
 * The state shown in the chip. The backend computes kstatus as `flux` does, where
 * `Failed` means `Stalled=True`; a settled object whose Ready is False has failed.
 */
export function stateOf(item: FluxStatusItem): ObjectState {
  if (item.suspended) return 'Suspended';
  if (item.kstatus === 'Failed') return 'Stalled';
  if (item.kstatus === 'InProgress' || item.kstatus === 'Terminating') {
    return 'Progressing';
  }
  if (item.ready.status === 'True') return 'Ready';
  if (item.ready.status === 'False') return 'Failed';
  return 'Progressing';
}

const SEVERITY: Record<ObjectState, number> = {
  Ready: 0,
  Suspended: 1,
  Progressing: 2,
  Failed: 3,
  Stalled: 4,
};

/** The worst of several states; `undefined` for none. */
export function worstState(states: ObjectState[]): ObjectState | undefined {
  return states.reduce<ObjectState | undefined>(
    (worst, state) =>
      worst === undefined || SEVERITY[state] > SEVERITY[worst] ? state : worst,
    undefined,
  );
}

/** Every Flux object of a cluster, sources first. */
export function objectsOf(cluster: ClusterStatus): FluxStatusItem[] {
  return [
    ...cluster.chains.flatMap(chain => [chain.source, ...chain.consumers]),
    ...cluster.kubernetesIdObjects,
  ];
}

/** The kinds that apply an artifact and that the actions work on from the UI. */
export function isConsumer(item: FluxStatusItem): boolean {
  return item.kind === 'Kustomization' || item.kind === 'HelmRelease';
}

export interface ParsedRevision {
  /** The branch or tag, when the revision names one. */
  ref?: string;
  /** `sha1` for Git commits, `sha256` for OCI digests; absent for plain versions. */
  algorithm?: string;
  /** The full hash, or the plain version (a chart version). */
  hash: string;
  /** What the UI shows: 7 characters of a hash, or the plain version. */
  short: string;
}

/**
 * Flux revisions: `main@sha1:<sha>`, `latest@sha256:<digest>`, `sha1:<sha>`, the older
 * `main/<sha>`, or a chart version such as `6.5.0`.
 */
export function parseRevision(revision: string): ParsedRevision {
  const modern =
    /^(?:(.+)@)?(sha1|sha256|sha384|sha512|blake3):([0-9a-f]+)$/i.exec(
      revision,
    );
  if (modern) {
    const [, ref, algorithm, hash] = modern;
    return {
      ref,
      algorithm: algorithm.toLowerCase(),
      hash,
      short: hash.slice(0, 7),
    };
  }
  const legacy = /^(.+)\/([0-9a-f]{40})$/i.exec(revision);
  if (legacy) {
    return {
      ref: legacy[1],
      algorithm: 'sha1',
      hash: legacy[2],
      short: legacy[2].slice(0, 7),
    };
  }
  if (/^[0-9a-f]{40}$/i.test(revision)) {
    return { algorithm: 'sha1', hash: revision, short: revision.slice(0, 7) };
  }
  return { hash: revision, short: revision };
}

/** The revision a row shows: what a source serves, or what a consumer last applied. */
export function revisionOf(item: FluxStatusItem): string | undefined {
  return isConsumer(item) ? item.lastAppliedRevision : item.artifactRevision;
}

/**
 * A link to a Git commit, built from a delivery repository's head commit URL on GitLab
 * (`…/-/commit/<sha>`): the repository whose head is that commit, else the only Git
 * repository the entity has.
 */
export function commitUrl(
  sha: string,
  repositories: RepositoryStatus[],
): string | undefined {
  const gitlab = repositories.filter(
    repository =>
      repository.kind === 'git' &&
      repository.headCommit?.webUrl.includes('/-/commit/'),
  );
  const repository =
    gitlab.find(candidate => candidate.headCommit?.sha === sha) ??
    (gitlab.length === 1 ? gitlab[0] : undefined);
  const webUrl = repository?.headCommit?.webUrl;
  if (!webUrl) return undefined;
  return `${webUrl.slice(0, webUrl.lastIndexOf('/-/commit/'))}/-/commit/${sha}`;
}

/** "up to date" / "behind by N commits", or nothing when the host was not asked. */
export function behindText(
  commitsBehind: number | undefined,
): string | undefined {
  if (commitsBehind === undefined) return undefined;
  if (commitsBehind === 0) return 'up to date';
  return `behind by ${commitsBehind} commit${commitsBehind === 1 ? '' : 's'}`;
}

/** When the object last reconciled, as far as the status tells: the last request or event. */
export function lastReconciledAt(item: FluxStatusItem): string | undefined {
  const times = [
    item.lastHandledReconcileAt,
    ...item.events.map(event => event.lastSeen),
  ]
    .filter((time): time is string => Boolean(time))
    .map(time => DateTime.fromISO(time))
    .filter(time => time.isValid);
  if (times.length === 0) return undefined;
  return DateTime.max(...times)?.toISO() ?? undefined;
}

/** "3 minutes ago"; the input unchanged when it is no ISO time. */
export function relativeTime(
  iso: string,
  now: DateTime = DateTime.now(),
): string {
  const time = DateTime.fromISO(iso);
  if (!time.isValid) return iso;
  return time.toRelative({ base: now }) ?? iso;
}

/** `1m 05s` for elapsed times. */
export function elapsed(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return minutes > 0
    ? `${minutes}m ${String(rest).padStart(2, '0')}s`
    : `${rest}s`;
}

/** `<ns>_<name>_<group>_<kind>` → `Kind ns/name` (group shown when present). */
export function inventoryLabel(id: string): string {
  const parts = id.split('_');
  if (parts.length < 4) return id;
  const kind = parts[parts.length - 1];
  const group = parts[parts.length - 2];
  const namespace = parts[0];
  const name = parts.slice(1, parts.length - 2).join('_');
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  return namespace
    ? `${qualifiedKind} ${namespace}/${name}`
    : `${qualifiedKind} ${name}`;
}
