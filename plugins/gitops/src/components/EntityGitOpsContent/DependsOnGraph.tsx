import {
  DependencyGraph,
  DependencyGraphTypes,
} from '@backstage/core-components';
import { Box, Typography } from '@material-ui/core';
import { ClusterStatus } from '@backstage-gitops/plugin-gitops-common';

/** `Kustomization flux-system/podinfo`: a Kustomization depends on Kustomizations, a HelmRelease on HelmReleases. */
function nodeId(kind: string, namespace: string, name: string) {
  return `${kind} ${namespace}/${name}`;
}

/** The edges and nodes of a cluster's `dependsOn`, including dependencies outside the entity. */
export function dependsOnGraphOf(cluster: ClusterStatus) {
  const nodes = new Map<string, DependencyGraphTypes.DependencyNode>();
  const edges: DependencyGraphTypes.DependencyEdge[] = [];
  for (const chain of cluster.chains) {
    for (const consumer of chain.consumers) {
      const from = nodeId(consumer.kind, consumer.namespace, consumer.name);
      for (const dependency of consumer.dependsOn ?? []) {
        const to = nodeId(consumer.kind, dependency.namespace, dependency.name);
        nodes.set(from, { id: from });
        nodes.set(to, { id: to });
        edges.push({ from, to, label: 'depends on' });
      }
    }
  }
  return { nodes: [...nodes.values()], edges };
}

/** The `dependsOn` graph of one cluster's Kustomizations and HelmReleases, when there is one. */
export function DependsOnGraph(props: { cluster: ClusterStatus }) {
  const { nodes, edges } = dependsOnGraphOf(props.cluster);
  if (edges.length === 0) {
    return null;
  }
  return (
    <Box mt={2} data-testid={`gitops-depends-on-${props.cluster.name}`}>
      <Typography variant="subtitle2">Dependencies</Typography>
      <DependencyGraph
        nodes={nodes}
        edges={edges}
        direction={DependencyGraphTypes.Direction.LEFT_RIGHT}
        paddingX={16}
        paddingY={8}
        style={{ maxHeight: 200 }}
      />
    </Box>
  );
}
