export { createRegisterDeliveryRepoAction } from './registerDeliveryRepo';
export { createFluxManifestsAction } from './fluxManifests';
export { GitOpsBootstrapClient } from './GitOpsBootstrapApi';
export type { GitOpsBootstrapApi } from './GitOpsBootstrapApi';
