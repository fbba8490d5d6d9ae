import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { PurgeAccepted, PurgeRequest, purgeWebhook } from "tiercache/webhook";
import { type AppEnv, DEV_PURGE_WEBHOOK_SECRET, isDevelopment } from "../../env";
import { createRouter } from "../../http/router";
import type { CatalogCache } from "../cache";

/** PURGE_WEBHOOK_SECRET, space-separated during a rotation; outside development, never the development secret. */
function configuredSecrets(c: Context<AppEnv>): string[] | undefined {
	const secrets = (c.env.PURGE_WEBHOOK_SECRET ?? "").split(/\s+/).filter(Boolean);
	if (!isDevelopment(c.env) && secrets.includes(DEV_PURGE_WEBHOOK_SECRET)) return undefined;
	return secrets;
}

/**
 * The signed purge webhook (tiercache/webhook), rate limited per client IP by
 * the WEBHOOK_RATE_LIMITER binding, and documented in the OpenAPI document.
 */
export function webhookRoutes({ cache }: { cache: CatalogCache }) {
	const router = createRouter();
	// Documented here, validated by the webhook: the signature covers the raw
	// bytes, so the body must not be parsed (and re-serialised) first.
	router.openAPIRegistry.registerPath({
		method: "post",
		path: "/v1/webhooks/purge",
		tags: ["admin"],
		summary: "Invalidate tags everywhere (Standard Webhooks signature)",
		request: {
			headers: z.object({ "webhook-id": z.string(), "webhook-timestamp": z.string(), "webhook-signature": z.string() }),
			body: { required: true, content: { "application/json": { schema: PurgeRequest } } },
		},
		responses: {
			200: { description: "A replay: the first answer", content: { "application/json": { schema: PurgeAccepted } } },
			202: {
				description: "Committed; the edge purge is tried at once and queued",
				content: { "application/json": { schema: PurgeAccepted } },
			},
			400: { description: "Bad body" },
			401: { description: "Bad or missing signature or timestamp" },
			413: { description: "Body larger than 64 KiB" },
			415: { description: "Body is not JSON" },
			429: { description: "Over the rate limit (Retry-After)" },
			503: { description: "Not configured, or the database is unavailable" },
		},
	});
	router.route(
		"/",
		purgeWebhook<AppEnv>({
			cache,
			database: (env) => env.DB,
			secrets: configuredSecrets,
			rateLimit: async (c) => {
				const client = c.req.header("CF-Connecting-IP") ?? "local";
				return (await c.env.WEBHOOK_RATE_LIMITER.limit({ key: `webhook:${client}` })).success;
			},
		}),
	);
	return router;
}
