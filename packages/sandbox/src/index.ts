/**
 * The sandbox world for tests, benchmarks and the demo. Never imported by product code.
 *
 * @packageDocumentation
 */
export { startWorld, DEMO_PORTS } from './world/world';
export type { SandboxWorld, StartWorldOptions } from './world/world';
export {
  startSandboxCluster,
  FLUX_NAMESPACE,
  BACKSTAGE_SERVICE_ACCOUNT,
  BACKSTAGE_USER,
} from './world/cluster';
export type { SandboxCluster, SandboxClusterOptions } from './world/cluster';
export {
  describeWorld,
  backstageConfig,
  backstageConfigFor,
} from './world/describe';
export type { WorldDescription } from './world/describe';
export { DEMO_TENANTS } from './world/describe';
export { startControlServer } from './world/control';
export * from './kube';
export { startGitLab } from './gitlab';
export type { RunningGitLab } from './gitlab';
export { startRegistry, pushArtifact, pullArtifact } from './oci';
export { startFleet } from './world/fleet';
export type { SandboxFleet, FleetCluster } from './world/fleet';
export * from './real';
