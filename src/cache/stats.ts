import { TIERS, type TierName } from "./policy";

export interface TierCounters {
	hits: number;
	misses: number;
	/** Answers served stale (stale-while-revalidate or stale-if-error). */
	stale: number;
	/** Entries found but rejected by their sequence numbers. */
	invalidated: number;
	errors: number;
	writes: number;
	/** Writes skipped by KV's one-write-per-second rule or a size limit. */
	skippedWrites: number;
}

/** Counters of one isolate since it started. */
export class CacheStats {
	readonly startedAt = new Date().toISOString();
	requests = 0;
	bypassed = 0;
	notModified = 0;
	origin = { loads: 0, errors: 0, coalesced: 0, unbatched: 0, earlyRefreshes: 0, backgroundRefreshes: 0 };
	served = { staleWhileRevalidate: 0, staleIfError: 0, unavailable: 0 };
	purges = { invalidations: 0, tags: 0, publishErrors: 0 };
	tiers = Object.fromEntries(
		TIERS.map((t) => [t, { hits: 0, misses: 0, stale: 0, invalidated: 0, errors: 0, writes: 0, skippedWrites: 0 }]),
	) as Record<TierName, TierCounters>;
}
