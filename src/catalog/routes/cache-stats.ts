import { createRoute, z } from "@hono/zod-openapi";
import { writeScope } from "tiercache";
import { PurgeRequest, purgeNow } from "tiercache/webhook";
import { adminAuth } from "../../http/admin-auth";
import { jsonBody } from "../../http/json-body";
import { createRouter } from "../../http/router";
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
	timeouts: z.number(),
	writes: z.number(),
	skippedWrites: z.number(),
	skippedReads: z.number(),
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
			overtakenFlights: z.number(),
			byCause: z.object({
				cold: z.number(),
				expired: z.number(),
				invalidated: z.number(),
				evicted: z.number(),
				refresh: z.number(),
			}),
			byRoute: z.record(z.string(), z.number()),
		}),
		served: z.object({
			staleWhileRevalidate: z.number(),
			staleIfError: z.number(),
			softInvalidated: z.number(),
			clockUnavailable: z.number(),
			unavailable: z.number(),
			front: z.number().describe("memory hits answered before the app ran (the front door), in tiers.memory.hits too"),
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
		stored: z
			.object({ answers: z.number(), skipped: z.number() })
			.describe("answers stored without a load of their own: written through by writes, or related to a load"),
		purges: z.object({
			invalidations: z.number(),
			tags: z.number(),
			edgePurgedNow: z.number().openapi({ description: "Edge purges made before a write's or webhook's answer" }),
			edgeErrors: z.number(),
			enqueueErrors: z.number(),
		}),
		recent: z.array(
			z.object({ at: z.string(), source: z.string(), tags: z.array(z.string()), seq: z.number(), floor: z.boolean() }),
		),
		tiers: z.object({ memory: counters, colo: counters, kv: counters }),
		memory: z.object({ bytes: z.number(), entries: z.number(), maxBytes: z.number(), evictions: z.number() }),
		inFlight: z.number(),
		clock: z
			.object({
				d1Reads: z.number().openapi({ description: "Reads of the invalidation clock from D1" }),
				sharedReads: z
					.number()
					.openapi({ description: "View increments taken from the location's shared copy instead of D1" }),
				tagLookups: z.number().openapi({ description: "Per-tag look-ups for entries older than the view" }),
				waits: z.number().openapi({ description: "Requests that waited for the clock (view absent or over 1 s old)" }),
				failures: z.number(),
				floors: z.number().openapi({ description: "Bulk changes turned into a floor" }),
				leaseDeferrals: z
					.number()
					.openapi({ description: "Background refreshes left to the isolate holding the location's lease" }),
				headChecks: z
					.number()
					.openapi({ description: "Looks at the counter another isolate of the location announced" }),
				headRefreshes: z
					.number()
					.openapi({ description: "Refreshes started because an announced counter was ahead of the view" }),
				headTakes: z.number().openapi({
					description: "Looks that reached an announced counter with the bumps it carried, without a refresh",
				}),
				headWaits: z.number().openapi({
					description: "Requests that waited for a look at the announced counter, or for the refresh it started",
				}),
				headLookFailures: z.number().openapi({
					description:
						"Looks at the announced counter that failed or got no answer within headCheckMs: the isolate went on with what it knew, within the refresh age",
				}),
				announcements: z
					.number()
					.openapi({ description: "Invalidations this isolate announced to the others of its location" }),
				reannouncements: z.number().openapi({
					description:
						"Announcements made again because a lower one (another isolate's, or a slower one of this isolate's) had landed over them",
				}),
				announceFailures: z.number().openapi({
					description:
						"Writes that answered without their announcement confirmed (a Cache API failure or timeout): the location's other isolates learn of them at their refresh age",
				}),
				counter: z.number().openapi({ description: "D1's counter as of the view (-1 before the first read)" }),
				floor: z.number(),
				coverFrom: z.number(),
				bumps: z.number(),
				lookedUpTags: z.number(),
				viewAgeMs: z.number().openapi({ description: "Age of the view in ms (-1 before the first read)" }),
			})
			.openapi({ description: "This isolate's view of the invalidation clock" }),
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
				const seq = await purgeNow(c.env, cache, request, writeScope(c), {}, "admin");
				const tags = "tags" in request ? [...new Set(request.tags)] : [];
				return c.json({ tags, seq, purgeEverything: "purgeEverything" in request }, 202, {
					"Cache-Control": "no-store",
				});
			},
		);
}
