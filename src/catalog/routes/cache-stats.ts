import { createRoute, z } from "@hono/zod-openapi";
import { adminAuth } from "../../http/admin-auth";
import { jsonBody } from "../../http/json-body";
import { createRouter } from "../../http/router";
import { PurgeRequest, purgeNow } from "../../purge/webhook";
import { adminSecurity, errors, json, jsonRequest } from "./common";

const PurgeDone = z
	.object({ tags: z.array(z.string()), seq: z.number().int(), purgeEverything: z.boolean() })
	.openapi("PurgeDone");

import type { CatalogDeps } from "./deps";

const counters = z.object({
	hits: z.number(),
	misses: z.number(),
	stale: z.number(),
	invalidated: z.number(),
	errors: z.number(),
	writes: z.number(),
	skippedWrites: z.number(),
});

const CacheStats = z
	.object({
		startedAt: z.string(),
		requests: z.number(),
		bypassed: z.number(),
		notModified: z.number(),
		origin: z.object({
			loads: z.number(),
			errors: z.number(),
			coalesced: z.number(),
			unbatched: z.number(),
			earlyRefreshes: z.number(),
			backgroundRefreshes: z.number(),
			byRoute: z.record(z.string(), z.number()),
		}),
		served: z.object({
			staleWhileRevalidate: z.number(),
			staleIfError: z.number(),
			softInvalidated: z.number(),
			unavailable: z.number(),
		}),
		queue: z.object({
			batches: z.number(),
			purged: z.number(),
			retried: z.number(),
			rejected: z.number(),
			rewarmed: z.number(),
			lastBatchAt: z.string().nullable(),
		}),
		rewarm: z.object({ keys: z.number(), skipped: z.number() }),
		purges: z.object({
			invalidations: z.number(),
			tags: z.number(),
			publishErrors: z.number(),
			enqueueErrors: z.number(),
		}),
		recent: z.array(
			z.object({ at: z.string(), source: z.string(), tags: z.array(z.string()), seq: z.number(), floor: z.boolean() }),
		),
		tiers: z.object({ memory: counters, colo: counters, kv: counters }),
		memory: z.object({ bytes: z.number(), entries: z.number(), maxBytes: z.number() }),
		inFlight: z.number(),
		validation: z.object({
			tagLookups: z.number(),
			fromRecentBumps: z.number(),
			recentBumps: z.object({ from: z.number(), to: z.number(), tags: z.number() }),
		}),
	})
	.openapi("CacheStats");

export function cacheStatsRoutes({ cache }: CatalogDeps) {
	return createRouter()
		.openapi(
			createRoute({
				method: "get",
				path: "/v1/_cache/stats",
				tags: ["admin"],
				summary: "Cache counters of the isolate that serves the request, since it started",
				security: adminSecurity,
				middleware: [adminAuth()] as const,
				responses: { 200: json(CacheStats, "Counters"), 401: errors[401] },
			}),
			(c) => c.json(cache.snapshot(), 200, { "Cache-Control": "no-store" }),
		)
		.openapi(
			createRoute({
				method: "post",
				path: "/v1/_cache/purge",
				tags: ["admin"],
				summary: "Invalidate tags everywhere, as the webhook does (for the /_cache page)",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { body: jsonRequest(PurgeRequest) },
				responses: {
					202: json(PurgeDone, "Committed; the edge purge is queued"),
					400: errors[400],
					401: errors[401],
					413: errors[413],
					415: errors[415],
					503: errors[503],
				},
			}),
			async (c) => {
				const request = c.req.valid("json");
				const seq = await purgeNow(c.env, cache, request, (p) => c.executionCtx.waitUntil(p), {}, "admin");
				const tags = "tags" in request ? [...new Set(request.tags)] : [];
				return c.json({ tags, seq, purgeEverything: "purgeEverything" in request }, 202, {
					"Cache-Control": "no-store",
				});
			},
		);
}
