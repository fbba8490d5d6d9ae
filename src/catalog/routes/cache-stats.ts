import { createRoute, z } from "@hono/zod-openapi";
import { adminAuth } from "../../http/admin-auth";
import { createRouter } from "../../http/router";
import { adminSecurity, errors, json } from "./common";
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
	return createRouter().openapi(
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
	);
}
