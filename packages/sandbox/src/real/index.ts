export {
  realBinaries,
  realWorldSkipReason,
  RealWorldUnavailable,
  programOf,
} from './binaries';
export type { RealBinaries, RealComponent } from './binaries';
export { startRealCluster, REAL_FLUX_NAMESPACE } from './cluster';
export type { RealCluster, RealClusterOptions } from './cluster';
