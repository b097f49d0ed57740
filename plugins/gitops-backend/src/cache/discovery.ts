import { ApisApi, KubeConfig } from '@kubernetes/client-node';
import { fluxKinds } from '../actions/fluxKinds';
import { DiscoveredKind } from './types';

const NOTIFICATION_GROUP = 'notification.toolkit.fluxcd.io';

/** Per kind: its group and the versions the backend understands, preferred first. */
const PREFERRED: Record<DiscoveredKind, { group: string; versions: string[] }> =
  {
    GitRepository: {
      group: fluxKinds.GitRepository.group,
      versions: ['v1', 'v1beta2'],
    },
    OCIRepository: {
      group: fluxKinds.OCIRepository.group,
      versions: ['v1', 'v1beta2'],
    },
    Bucket: { group: fluxKinds.Bucket.group, versions: ['v1', 'v1beta2'] },
    HelmRepository: {
      group: fluxKinds.HelmRepository.group,
      versions: ['v1', 'v1beta2'],
    },
    HelmChart: {
      group: fluxKinds.HelmChart.group,
      versions: ['v1', 'v1beta2'],
    },
    Kustomization: { group: fluxKinds.Kustomization.group, versions: ['v1'] },
    HelmRelease: {
      group: fluxKinds.HelmRelease.group,
      versions: ['v2', 'v2beta2'],
    },
    Receiver: { group: NOTIFICATION_GROUP, versions: ['v1'] },
    Provider: { group: NOTIFICATION_GROUP, versions: ['v1beta3'] },
    Alert: { group: NOTIFICATION_GROUP, versions: ['v1beta3'] },
  };

/**
 * The apiVersion each Flux kind is served at on a cluster, from API discovery (`/apis`).
 * Kinds whose group or versions are not served are left out.
 */
export async function discoverFluxVersions(
  kubeConfig: KubeConfig,
): Promise<Partial<Record<DiscoveredKind, string>>> {
  const { groups } = await kubeConfig.makeApiClient(ApisApi).getAPIVersions();
  const served = new Map(
    groups.map(g => [g.name, new Set(g.versions.map(v => v.version))]),
  );
  const result: Partial<Record<DiscoveredKind, string>> = {};
  for (const [kind, { group, versions }] of Object.entries(PREFERRED)) {
    const version = versions.find(v => served.get(group)?.has(v));
    if (version) result[kind as DiscoveredKind] = `${group}/${version}`;
  }
  return result;
}
