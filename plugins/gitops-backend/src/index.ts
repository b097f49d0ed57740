/**
 * The GitOps backend plugin.
 *
 * @packageDocumentation
 */
export { gitopsPlugin as default } from './plugin';
export { eventsModuleGitlabWebhook } from './webhooks/gitlabWebhookModule';
