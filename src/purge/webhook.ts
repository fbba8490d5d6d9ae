import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { InvalidationSource, InvalidationStatements } from "../cache/tier-cache";
import { type Background, writeScope } from "../cache/write-scope";
import type { CatalogCache } from "../catalog/cache";
import { type AppEnv, DEV_PURGE_WEBHOOK_SECRET, isDevelopment } from "../env";
import { ApiError, errorResponse } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { createRouter } from "../http/router";
import { verifySignature } from "./signature";

/** A tag: printable ASCII without spaces or commas, at most 1,024 characters. */
export const PurgeTag = z
	.string()
	.min(1)
	.max(1024)
	.regex(/^[\x21-\x2B\x2D-\x7E]+$/, "must be printable ASCII without spaces or commas");

export const PurgeRequest = z
	.union([
		z.strictObject({ tags: z.array(PurgeTag).min(1).max(100) }),
		z.strictObject({ purgeEverything: z.literal(true) }),
	])
	.openapi("PurgeRequest");

const PurgeAccepted = z
	.object({ id: z.string(), tags: z.array(z.string()), seq: z.number().int(), purgeEverything: z.boolean().optional() })
	.openapi("PurgeAccepted");

/** Delivery ids are kept at least this long for replay detection (the cron prunes older ones). */
export const DELIVERY_RETENTION_MS = 72 * 3600 * 1000;

function configuredSecrets(c: Context<AppEnv>): string[] {
	const secrets = (c.env.PURGE_WEBHOOK_SECRET ?? "").split(/\s+/).filter(Boolean);
	if (!isDevelopment(c.env) && (secrets.length === 0 || secrets.includes(DEV_PURGE_WEBHOOK_SECRET))) {
		throw new ApiError(503, "the purge webhook is disabled: set the PURGE_WEBHOOK_SECRET secret", {
			code: "webhook_not_configured",
		});
	}
	return secrets;
}

/**
 * The purge both the webhook and the admin page run: the seq bump (with any
 * statements that must commit with it), then the first edge purge attempt
 * and the queue.
 */
export function purgeNow(
	env: AppEnv["Bindings"],
	cache: CatalogCache,
	request: z.infer<typeof PurgeRequest>,
	background: Background,
	sameTransaction: InvalidationStatements,
	source: InvalidationSource,
): Promise<number> {
	return "purgeEverything" in request
		? cache.invalidateEverything(env, background, sameTransaction, source)
		: cache.invalidateTags(env, request.tags, background, sameTransaction, source);
}

export function webhookRoutes({ cache }: { cache: CatalogCache }) {
	const router = createRouter();

	// Documented here, validated by hand below: the signature covers the raw
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
				description: "Committed; the edge purge is queued",
				content: { "application/json": { schema: PurgeAccepted } },
			},
			400: { description: "Bad body" },
			401: { description: "Bad or missing signature or timestamp" },
			413: { description: "Body larger than 64 KiB" },
			415: { description: "Body is not JSON" },
			429: { description: "Over the rate limit (Retry-After)" },
		},
	});

	router.post(
		"/v1/webhooks/purge",
		async function rateLimit(c, next) {
			configuredSecrets(c);
			const client = c.req.header("CF-Connecting-IP") ?? "local";
			const { success } = await c.env.WEBHOOK_RATE_LIMITER.limit({ key: `webhook:${client}` });
			if (!success)
				throw new ApiError(429, "too many purge calls; try again later", { headers: { "Retry-After": "60" } });
			await next();
		},
		jsonBody(),
		async (c) => {
			const secrets = configuredSecrets(c);
			const raw = new Uint8Array(await c.req.arrayBuffer());
			const headers = {
				id: c.req.header("webhook-id"),
				timestamp: c.req.header("webhook-timestamp"),
				signature: c.req.header("webhook-signature"),
			};
			const verified = await verifySignature(secrets, headers, raw, Math.floor(Date.now() / 1000));
			if (!verified.ok) throw new ApiError(401, verified.reason);
			const id = headers.id as string;

			let parsed: unknown;
			try {
				parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw));
			} catch {
				throw new ApiError(400, "the body is not valid JSON");
			}
			const request = PurgeRequest.safeParse(parsed);
			if (!request.success) {
				const issues = request.error.issues.map((i) => ({ in: "json", path: i.path.join("."), message: i.message }));
				return errorResponse(c, 400, "invalid_request", `invalid body: ${issues[0]?.message ?? "bad shape"}`, issues);
			}

			const d1 = c.env.DB;
			const tags = "tags" in request.data ? [...new Set(request.data.tags)] : [];
			const everything = "purgeEverything" in request.data;
			// The delivery record commits with the bump, or neither does: a replay
			// finds the first answer and never bumps twice.
			const sameTransaction = {
				before: [
					d1
						.prepare("INSERT INTO webhook_deliveries (id, response, received_at) VALUES (?1, '', ?2)")
						.bind(id, Date.now()),
				],
				after: [
					d1
						.prepare(
							"UPDATE webhook_deliveries SET response = json_object('id', ?1, 'tags', json(?2), 'seq', (SELECT value FROM cache_seq WHERE id = 1)" +
								(everything ? ", 'purgeEverything', json('true')" : "") +
								") WHERE id = ?1",
						)
						.bind(id, JSON.stringify(tags)),
				],
			};
			try {
				const seq = await purgeNow(c.env, cache, request.data, writeScope(c), sameTransaction, "webhook");
				return c.json({ id, tags, seq, ...(everything ? { purgeEverything: true } : {}) }, 202, {
					"Cache-Control": "no-store",
				});
			} catch (err) {
				if (
					!/UNIQUE constraint failed/i.test(String(err instanceof Error ? `${err.message} ${err.cause ?? ""}` : err))
				) {
					throw new ApiError(503, "the origin database is unavailable", { code: "origin_unavailable", cause: err });
				}
				const first = await d1
					.prepare("SELECT response FROM webhook_deliveries WHERE id = ?1")
					.bind(id)
					.first<{ response: string }>();
				return c.body(first?.response ?? "{}", 200, {
					"Content-Type": "application/json",
					"Cache-Control": "no-store",
				});
			}
		},
	);
	return router;
}
