export type {
  EntityStatus,
  ClusterStatus,
  FluxChain,
  FluxStatusItem,
  FluxEventItem,
  HeadCommit,
  KStatus,
  RepositoryStatus,
} from '@backstage-gitops/plugin-gitops-common';
