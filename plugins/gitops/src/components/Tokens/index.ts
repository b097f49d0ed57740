export { TokensCard } from './TokensCard';
export { TokensPage } from './TokensPage';
