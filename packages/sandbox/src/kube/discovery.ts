import { compareVersionPriority } from './apiVersions';
import type { ResourceType } from './types';

const CRUD_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];
const STATUS_VERBS = ['get', 'patch', 'update'];
/** Built-in groups come first in `/apis`, as on a real server; CRD groups follow. */
const BUILT_IN_GROUPS = new Set(['', 'apps']);

export function isBuiltInGroup(group: string): boolean {
  return BUILT_IN_GROUPS.has(group);
}

interface GroupVersion {
  groupVersion: string;
  version: string;
}

export interface ApiGroup {
  name: string;
  versions: GroupVersion[];
  preferredVersion: GroupVersion;
}

function groupVersions(types: ResourceType[], group: string): string[] {
  const versions = new Set(
    types.filter(t => t.group === group).map(t => t.version),
  );
  return [...versions].sort(compareVersionPriority);
}

export function apiGroup(
  types: ResourceType[],
  group: string,
): ApiGroup | undefined {
  const versions = groupVersions(types, group).map(version => ({
    groupVersion: `${group}/${version}`,
    version,
  }));
  return versions.length === 0
    ? undefined
    : { name: group, versions, preferredVersion: versions[0] };
}

/** `/apis`: every named group with its versions, preferred (highest priority) first. */
export function apiGroupList(types: ResourceType[]) {
  const groups = [
    ...new Set(types.map(t => t.group).filter(g => g !== '')),
  ].sort((a, b) => {
    const builtIn = Number(isBuiltInGroup(b)) - Number(isBuiltInGroup(a));
    return builtIn !== 0 ? builtIn : a.localeCompare(b);
  });
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map(group => apiGroup(types, group)!),
  };
}

/** `/api`: the legacy core group's versions. */
export function apiVersions(types: ResourceType[], serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: groupVersions(types, ''),
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** `/api/v1`, `/apis/{group}/{version}`: resources with verbs and their subresources. */
export function apiResourceList(
  types: ResourceType[],
  group: string,
  version: string,
) {
  const served = types.filter(t => t.group === group && t.version === version);
  if (served.length === 0) return undefined;
  const resources = served.flatMap(type => {
    const entries: Array<Record<string, unknown>> = [
      {
        name: type.plural,
        singularName: type.singular,
        namespaced: type.namespaced,
        kind: type.kind,
        verbs:
          type.kind === 'Namespace'
            ? CRUD_VERBS.filter(v => v !== 'deletecollection')
            : CRUD_VERBS,
        ...(type.shortNames?.length ? { shortNames: type.shortNames } : {}),
        ...(type.categories?.length ? { categories: type.categories } : {}),
      },
    ];
    if (type.statusSubresource) {
      entries.push({
        name: `${type.plural}/status`,
        singularName: '',
        namespaced: type.namespaced,
        kind: type.kind,
        verbs: STATUS_VERBS,
      });
    }
    if (group === '' && type.kind === 'Service') {
      entries.push({
        name: 'services/proxy',
        singularName: '',
        namespaced: true,
        kind: 'ServiceProxyOptions',
        verbs: ['create', 'delete', 'get', 'patch', 'update'],
      });
    }
    return entries;
  });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

export function versionInfo(gitVersion: string) {
  const match = /^v(\d+)\.(\d+)/.exec(gitVersion);
  return {
    major: match?.[1] ?? '1',
    minor: match?.[2] ?? '0',
    gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-06-01T00:00:00Z',
    goVersion: 'go1.24.4',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}
