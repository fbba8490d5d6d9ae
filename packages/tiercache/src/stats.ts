import { TIERS, type TierName } from "./policy.js";

export interface TierCounters {
	hits: number;
	misses: number;
	/** Answers served stale (stale-while-revalidate or stale-if-error). */
	stale: number;
	/** Entries found but rejected by their sequence numbers. */
	invalidated: number;
	/** Reads and writes that failed (reads that timed out included). */
	errors: number;
	/** Reads that did not answer within `tierTimeoutMs` (counted in `errors` too). */
	timeouts: number;
	writes: number;
	/** Writes skipped by KV's one-write-per-second rule or a size limit. */
	skippedWrites: number;
	/** Reads that did not ask the tier: KV, while it answers almost none of them (`kvProbe`). */
	skippedReads: number;
}

/** Counters of one isolate since it started. */
export class CacheStats {
	readonly startedAt = new Date().toISOString();
	requests = 0;
	bypassed = 0;
	notModified = 0;
	origin = {
		loads: 0,
		errors: 0,
		coalesced: 0,
		unbatched: 0,
		earlyRefreshes: 0,
		backgroundRefreshes: 0,
		/** Joined loads that an invalidation had overtaken by the time they answered (loaded again). */
		overtakenFlights: 0,
		/** Origin loads by why the tiers could not answer (`refresh`: background refreshes of entries that did). */
		byCause: { cold: 0, expired: 0, invalidated: 0, evicted: 0, refresh: 0 },
		/** Origin loads per route (policy name). */
		byRoute: {} as Record<string, number>,
	};
	/** Answers by how they were served; `front`: memory hits the front door gave before the app ran (in `tiers.memory.hits` too). */
	served = {
		staleWhileRevalidate: 0,
		staleIfError: 0,
		softInvalidated: 0,
		clockUnavailable: 0,
		unavailable: 0,
		front: 0,
	};
	rewarm = { keys: 0, skipped: 0 };
	/**
	 * Answers stored without a load of their own (`TierCache.store`, and loaders' `related` answers);
	 * `skipped`: not stored, because memory held one read as late (or unchanged since), the policy
	 * keeps no 404s, or memory, its only tier, had no room without evicting.
	 */
	stored = { answers: 0, skipped: 0 };
	/** Invalidations seen here; edge purges made before the answer, and their failures; queue hand-over failures. */
	purges = { invalidations: 0, tags: 0, edgePurgedNow: 0, edgeErrors: 0, enqueueErrors: 0 };
	/** The purge queue batches this isolate consumed. */
	queue = { batches: 0, purged: 0, retried: 0, rejected: 0, rewarmed: 0, lastBatchAt: null as string | null };
	/** The last invalidations seen by this isolate, newest last. */
	recent: { at: string; source: string; tags: string[]; seq: number; floor: boolean }[] = [];

	recordQueueBatch(result: { outcome: string; rewarmed?: number }): void {
		this.queue.batches++;
		if (result.outcome === "purged") this.queue.purged++;
		else if (result.outcome === "retried") this.queue.retried++;
		else if (result.outcome === "rejected") this.queue.rejected++;
		this.queue.rewarmed += result.rewarmed ?? 0;
		this.queue.lastBatchAt = new Date().toISOString();
	}

	recordInvalidation(source: string, tags: string[], seq: number, floor: boolean): void {
		this.recent.push({ at: new Date().toISOString(), source, tags: tags.slice(0, 20), seq, floor });
		if (this.recent.length > 50) this.recent.shift();
	}
	tiers = Object.fromEntries(
		TIERS.map((t) => [
			t,
			{
				hits: 0,
				misses: 0,
				stale: 0,
				invalidated: 0,
				errors: 0,
				timeouts: 0,
				writes: 0,
				skippedWrites: 0,
				skippedReads: 0,
			},
		]),
	) as Record<TierName, TierCounters>;
}
