export { TokenInventory } from './TokenInventory';
export { tokenFindings } from './findings';
export { createTokenRoutes, readExpiringWithinDays } from './router';
export { TokenRotator, readRotationSettings } from './TokenRotator';
export type { RotationSettings } from './TokenRotator';
export { GitLabCredentialIssuer } from './GitLabCredentialIssuer';
export { GitLabCredentialLookup } from './GitLabCredentialLookup';
export { SecretWriter } from './secretWriter';
