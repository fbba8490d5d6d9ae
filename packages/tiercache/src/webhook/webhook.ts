import { type Context, type Handler, Hono, type Env as HonoEnv, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { TierCache } from "../tier-cache.js";
import type { AnyD1Db, InvalidationSource, InvalidationStatements } from "../types.js";
import { type Background, writeScope } from "../write-scope.js";
import { verifySignature } from "./signature.js";

/** A tag: printable ASCII without spaces or commas, at most 1,024 characters. */
export const PurgeTag = z
	.string()
	.min(1)
	.max(1024)
	.regex(/^[\x21-\x2B\x2D-\x7E]+$/, "must be printable ASCII without spaces or commas");

/** The webhook's body: 1–100 tags, or everything. */
export const PurgeRequest = z.union([
	z.strictObject({ tags: z.array(PurgeTag).min(1).max(100) }),
	z.strictObject({ purgeEverything: z.literal(true) }),
]);
export type PurgeRequest = z.infer<typeof PurgeRequest>;

/** The webhook's answer (202, and 200 for a replay). */
export const PurgeAccepted = z.object({
	id: z.string(),
	tags: z.array(z.string()),
	seq: z.number().int(),
	purgeEverything: z.boolean().optional(),
});

/** Delivery ids are kept at least this long for replay detection (prune older ones with `pruneDeliveries`). */
export const DELIVERY_RETENTION_MS = 72 * 3600 * 1000;

/**
 * The purge both the webhook and an admin page run: the seq bump (with any
 * statements that must commit with it), then the first edge purge attempt
 * and the queue.
 */
export function purgeNow<E extends HonoEnv>(
	env: E["Bindings"],
	cache: TierCache<E, AnyD1Db>,
	request: PurgeRequest,
	background: Background,
	sameTransaction: InvalidationStatements,
	source: InvalidationSource,
): Promise<number> {
	return "purgeEverything" in request
		? cache.invalidateEverything(env, background, sameTransaction, source)
		: cache.invalidateTags(env, request.tags, background, sameTransaction, source);
}

/** Deletes delivery records past the retention (run it from the cron); returns how many. */
export async function pruneDeliveries(d1: D1Database, now = Date.now()): Promise<number> {
	const result = await d1
		.prepare("DELETE FROM webhook_deliveries WHERE received_at < ?1")
		.bind(now - DELIVERY_RETENTION_MS)
		.run();
	return result.meta.changes ?? 0;
}

export interface PurgeWebhookOptions<E extends HonoEnv> {
	/** The engine whose tags the webhook invalidates. */
	cache: TierCache<E, AnyD1Db>;
	/** The D1 database holding `webhook_deliveries` (the engine's). */
	database: (env: E["Bindings"]) => D1Database;
	/**
	 * The Standard Webhooks secrets (`whsec_…`; several during a rotation).
	 * None: the webhook answers 503 `webhook_not_configured`.
	 */
	secrets: (c: Context<E>) => string[] | undefined;
	/** A per-client limit; false answers 429 with `Retry-After: 60`. Default: none. */
	rateLimit?: (c: Context<E>) => Promise<boolean>;
	/** Default `/v1/webhooks/purge`. */
	path?: string;
	/** Largest body accepted (bytes). Default 64 KiB. */
	maxBytes?: number;
	/** Unix seconds, for the ±5 minutes timestamp window. */
	now?: () => number;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function fail(c: Context, status: ContentfulStatusCode, code: string, message: string, extra: object = {}) {
	return c.json({ error: { code, message, ...extra } }, status, { "Cache-Control": "no-store" });
}

/**
 * The signed purge webhook (Standard Webhooks) as a Hono app to mount:
 * rate limit, JSON and size checks, the signature over the raw bytes (±5
 * minutes, constant-time, several secrets and signatures), the body, then one
 * D1 transaction with the delivery record and the bump — a replayed
 * `webhook-id` is answered 200 with the first answer and never bumps twice.
 * Errors are `{"error": {"code", "message"}}` with `Cache-Control: no-store`.
 *
 * @param options - the engine, its database, the secrets, an optional rate limit.
 * @example
 * ```ts
 * app.route("/", purgeWebhook({
 *   cache,
 *   database: (env) => env.DB,
 *   secrets: (c) => c.env.PURGE_WEBHOOK_SECRET?.split(" "),
 * }));
 * ```
 * @see https://www.standardwebhooks.com/
 */
export function purgeWebhook<E extends HonoEnv>(options: PurgeWebhookOptions<E>): Hono<E> {
	const maxBytes = options.maxBytes ?? 64 * 1024;
	const app = new Hono<E>();
	const limit = bodyLimit({
		maxSize: maxBytes,
		onError: (c) => fail(c, 413, "payload_too_large", `request body is larger than ${maxBytes} bytes`),
	});
	const guard: MiddlewareHandler<E> = async function guard(c, next) {
		const secrets = options.secrets(c);
		if (!secrets || secrets.length === 0) {
			return fail(c, 503, "webhook_not_configured", "the purge webhook is not configured");
		}
		if (options.rateLimit && !(await options.rateLimit(c))) {
			c.header("Retry-After", "60");
			return fail(c, 429, "rate_limited", "too many purge calls; try again later");
		}
		if (!JSON_TYPE.test(c.req.header("Content-Type") ?? "")) {
			return fail(c, 415, "unsupported_media_type", "the request body must be JSON (Content-Type: application/json)");
		}
		return limit(c, next);
	};
	const purge: Handler<E> = async function purge(c) {
		const secrets = options.secrets(c) ?? [];
		const raw = new Uint8Array(await c.req.arrayBuffer());
		const headers = {
			id: c.req.header("webhook-id"),
			timestamp: c.req.header("webhook-timestamp"),
			signature: c.req.header("webhook-signature"),
		};
		const now = options.now?.() ?? Math.floor(Date.now() / 1000);
		const verified = await verifySignature(secrets, headers, raw, now);
		if (!verified.ok) return fail(c, 401, "unauthorized", verified.reason);
		const id = headers.id as string;

		let parsed: unknown;
		try {
			parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw));
		} catch {
			return fail(c, 400, "invalid_request", "the body is not valid JSON");
		}
		const request = PurgeRequest.safeParse(parsed);
		if (!request.success) {
			const issues = request.error.issues.map((i) => ({ in: "json", path: i.path.join("."), message: i.message }));
			return fail(c, 400, "invalid_request", `invalid body: ${issues[0]?.message ?? "bad shape"}`, {
				details: issues,
			});
		}

		const d1 = options.database(c.env);
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
			const seq = await purgeNow(c.env, options.cache, request.data, writeScope(c), sameTransaction, "webhook");
			return c.json({ id, tags, seq, ...(everything ? { purgeEverything: true } : {}) }, 202, {
				"Cache-Control": "no-store",
			});
		} catch (err) {
			if (!/UNIQUE constraint failed/i.test(String(err instanceof Error ? `${err.message} ${err.cause ?? ""}` : err))) {
				console.error(
					JSON.stringify({
						level: "error",
						component: "tiercache",
						kind: "webhook",
						message: err instanceof Error ? err.message : String(err),
					}),
				);
				return fail(c, 503, "origin_unavailable", "the origin database is unavailable");
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
	};
	app.post(options.path ?? "/v1/webhooks/purge", guard, purge);
	return app;
}
