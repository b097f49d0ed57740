export {
  FluxBootstrapper,
  readBootstrapReadyTimeout,
} from './FluxBootstrapper';
export { createBootstrapRoutes } from './router';
