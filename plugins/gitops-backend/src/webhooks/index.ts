export {
  WebhookRegistrar,
  readWebhookSettings,
  eventsBaseUrl,
} from './WebhookRegistrar';
export type { WebhookSettings } from './WebhookRegistrar';
