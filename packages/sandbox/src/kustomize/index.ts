export { buildKustomization } from './build';
export type { KustomizationOverrides } from './build';
export { KustomizeBuildError } from './errors';
export type {
  ImageEntry,
  Kustomization,
  PatchEntry,
  TargetSelector,
} from './kustomizationFile';
