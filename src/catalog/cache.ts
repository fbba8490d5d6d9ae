import { createTierCache, type PolicyOverrides, type TierCache, type TierCacheOptions } from "tiercache";
import { configuredPurgers, enqueuePurge, purgeEdgeNow, repurgeDelaySeconds } from "tiercache/purge";
import { createDb, type Db } from "../db/client";
import { type AppEnv, isDevelopment } from "../env";

export type CatalogCache = TierCache<AppEnv, Db>;

/**
 * Bumped by hand when the meaning of cached answers changes without their
 * shape changing; shape changes move the key by themselves (see `createApp`).
 */
export const CACHE_SCHEMA_VERSION = "1";

/** ORIGIN_DELAY_MS in milliseconds; 0 unless ENVIRONMENT=development. */
export function originDelayMs(env: AppEnv["Bindings"]): number {
	if (!isDevelopment(env)) return 0;
	const delay = Number(env.ORIGIN_DELAY_MS ?? 0);
	return Number.isInteger(delay) && delay > 0 ? Math.min(delay, 30_000) : 0;
}

const OVERRIDABLE = ["ttl", "staleWhileRevalidate", "staleIfError", "browserTtl", "edgeTtl", "notFoundTtl"] as const;
let parsedOverrides: { text: string; overrides: PolicyOverrides | undefined } | undefined;

/**
 * POLICY_OVERRIDES ("ttl=2,staleWhileRevalidate=1,staleIfError=4"), honoured
 * only when ENVIRONMENT=development: short windows for end-to-end tests of an
 * edge cache. Parsed once per value; a malformed value is reported and ignored.
 */
export function policyOverrides(env: AppEnv["Bindings"]): PolicyOverrides | undefined {
	const text = env.POLICY_OVERRIDES;
	if (!text || !isDevelopment(env)) return undefined;
	if (parsedOverrides?.text === text) return parsedOverrides.overrides;
	const overrides: PolicyOverrides = {};
	let valid = true;
	for (const part of text.split(",")) {
		const [name, value] = part.split("=").map((s) => s.trim());
		const seconds = Number(value);
		if (!OVERRIDABLE.includes(name as (typeof OVERRIDABLE)[number]) || !/^\d{1,7}$/.test(value ?? "")) {
			valid = false;
			break;
		}
		overrides[name as (typeof OVERRIDABLE)[number]] = seconds;
	}
	if (!valid) {
		console.warn(
			JSON.stringify({
				level: "warn",
				component: "tiercache",
				message: `POLICY_OVERRIDES ignored: expected name=seconds pairs of ${OVERRIDABLE.join(", ")}`,
			}),
		);
	}
	parsedOverrides = { text, overrides: valid ? overrides : undefined };
	return parsedOverrides.overrides;
}

/** The catalog's cache engine; `version` yields the key version (schema version + response shapes). */
export function createCatalogCache(
	version: () => Promise<string>,
	overrides: Partial<TierCacheOptions<AppEnv, Db>> = {},
): CatalogCache {
	return createTierCache<AppEnv, Db>({
		database: (env) => env.DB,
		kv: (env) => env.CACHE_KV,
		createDb,
		version,
		originDelayMs,
		policyOverrides,
		// KV takes an entry on its second request in an isolate, not on its
		// first load: a key read once costs no KV write (the dearest storage
		// operation, and one a second per key at most), while memory and the
		// Cache API still take every load (docs/architecture.md).
		defaults: { kvAdmission: "second-request" },
		// The first edge purge is tried before a write's answer; the purge queue
		// carries the retries (or, when it worked, only the delayed re-purge).
		purgeEdgeNow: (env, target, ctx) => purgeEdgeNow(env, target, ctx),
		// Nothing is queued where no edge purger is configured (the request's context tells, the
		// cron's sweep has none): T1–T3 need no purge, and the queue would only carry work for nobody.
		purge: async (env, target, { purged, executionCtx }) => {
			if (executionCtx && configuredPurgers(env, executionCtx).length === 0) return;
			await enqueuePurge(env.PURGE_QUEUE, target, purged ? { repurgeAfterS: repurgeDelaySeconds(env) } : {});
		},
		...overrides,
	});
}

/** The catalog's per-route policies (defaults in src/cache/policy.ts). */
export function catalogPolicies(cache: CatalogCache) {
	return {
		// Categories change rarely.
		categories: cache.policy({ name: "categories", ttl: 300 }),
		category: cache.policy({ name: "category", ttl: 300 }),
		products: cache.policy({ name: "products", ttl: 60 }),
		product: cache.policy({ name: "product", ttl: 120 }),
		reviews: cache.policy({ name: "reviews", ttl: 60 }),
		// A precomputed ranking: the cron keeps it current (src/catalog/precompute.ts),
		// so it lives long, one entry per scope serves every `limit`, and an
		// invalidation turns it stale (served while one refresh runs) instead of
		// making a visitor wait for the aggregate.
		topProducts: cache.policy({
			name: "top-products",
			ttl: 86_400,
			staleWhileRevalidate: 3_600,
			keyQuery: ["category"],
			onInvalidate: "soft",
			earlyRefreshBeta: 0,
		}),
	};
}
export type CatalogPolicies = ReturnType<typeof catalogPolicies>;
