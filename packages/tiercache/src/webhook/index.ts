/**
 * tiercache/webhook: the signed purge webhook (Standard Webhooks) as a Hono
 * app factory, its schemas, and the signature functions.
 *
 * @packageDocumentation
 */
export { webhookDeliveries } from "./schema.js";
export { sign, verifySignature } from "./signature.js";
export {
	DELIVERY_RETENTION_MS,
	PurgeAccepted,
	PurgeRequest,
	PurgeTag,
	type PurgeWebhookOptions,
	pruneDeliveries,
	purgeNow,
	purgeWebhook,
} from "./webhook.js";
