export { TokenInventory } from './TokenInventory';
export { tokenFindings } from './findings';
export { createTokenRoutes, readExpiringWithinDays } from './router';
