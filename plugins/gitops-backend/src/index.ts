/**
 * The GitOps backend plugin.
 *
 * @packageDocumentation
 */
export { gitopsPlugin as default } from './plugin';
