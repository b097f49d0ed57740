export { Tenancy, canonicalOwnerRef, ownersOf } from './Tenancy';
export type { TenantPlacement, TenantConfig } from './Tenancy';
export { ObjectClaims } from './ObjectClaims';
