/**
 * tiercache: a tiered read-through cache for Hono + D1 on Cloudflare Workers
 * (memory → Cache API → KV → D1), with entries validated against an
 * invalidation clock kept in D1 and CDN headers for the edge in front.
 *
 * @packageDocumentation
 */
export { clockSource } from "./clock-source.js";
export { type ClockIncrement, ClockView, type Validity } from "./clock-view.js";
export type { Entry } from "./entry.js";
export { type FetchHandler, type FrontHit, type FrontOptions, pathAndQuery } from "./front-door.js";
export {
	CACHE_TAG_HEADER_LIMIT,
	CATCH_ALL_TAG,
	cacheStatus,
	coarseTag,
	edgePurgeTags,
	edgeTags,
	type TierOutcome,
} from "./headers.js";
export {
	type ClockCounters,
	type ClockDelta,
	type ClockHead,
	type ClockLease,
	type ClockOptions,
	type ClockSource,
	type ClockState,
	DEFAULT_CLOCK_OPTIONS,
	InvalidationClock,
} from "./invalidation-clock.js";
export { DEFAULT_KV_PROBE, KvProbeGate, type KvProbeOptions } from "./kv-probe.js";
export {
	type CachePolicy,
	DEFAULT_POLICY,
	definePolicy,
	type PolicyOptions,
	TIERS,
	type TierName,
} from "./policy.js";
export { cacheSeq, cacheState, cacheTagSeq } from "./schema.js";
export { Snapshot } from "./snapshot.js";
export { CacheStats, type TierCounters } from "./stats.js";
export { createTierCache, TierCache } from "./tier-cache.js";
export {
	type AnyD1Db,
	type InvalidationSource,
	type InvalidationStatements,
	type Loaded,
	type Loader,
	type Origin,
	OriginUnavailableError,
	type PolicyOverrides,
	type PurgeTarget,
	REWARM_HOST,
	type ReadOptions,
	type ReadResponse,
	type RelatedAnswer,
	type SweepResult,
	type TierCacheOptions,
} from "./types.js";
export { type Background, type WaitUntil, type WriteScope, writeScope } from "./write-scope.js";
