import type { ColoCache } from "./colo-cache.js";
import type { Entry } from "./entry.js";
import { KvCache } from "./kv-cache.js";
import type { MemoryLru } from "./memory-lru.js";
import type { TierName } from "./policy.js";
import type { CacheStats } from "./stats.js";
import type { WaitUntil } from "./write-scope.js";

/** T1–T3 behind one interface: reads that never throw, writes off the answer's path, counted. */
export class TierStore {
	readonly #memory: MemoryLru;
	readonly #colo: ColoCache;
	readonly #stats: CacheStats;
	readonly #warn: (kind: string, err: unknown) => void;
	/** KV's one-write-per-key-per-second rule, per isolate. */
	readonly #kvLastWrite = new Map<string, number>();

	constructor(memory: MemoryLru, colo: ColoCache, stats: CacheStats, warn: (kind: string, err: unknown) => void) {
		this.#memory = memory;
		this.#colo = colo;
		this.#stats = stats;
		this.#warn = warn;
	}

	/** An entry, undefined for a miss, null when the tier failed (a miss that is counted as an error). */
	async get(kv: () => KVNamespace, tier: TierName, key: string): Promise<Entry | undefined | null> {
		try {
			switch (tier) {
				case "memory":
					return this.#memory.get(key);
				case "colo":
					return await this.#colo.get(key);
				case "kv":
					return await new KvCache(kv(), this.#kvLastWrite).get(key);
			}
		} catch (err) {
			this.#warn(tier, err);
			return null;
		}
	}

	/** Stores an entry in these tiers: memory at once, the Cache API and KV in `waitUntil`. */
	store(kv: () => KVNamespace, waitUntil: WaitUntil, tiers: readonly TierName[], key: string, entry: Entry): void {
		for (const tier of tiers) {
			const counters = this.#stats.tiers[tier];
			if (tier === "memory") {
				if (this.#memory.set(key, entry)) counters.writes++;
				else counters.skippedWrites++;
				continue;
			}
			waitUntil(
				(async () => {
					try {
						if (tier === "colo") {
							await this.#colo.set(key, entry);
							counters.writes++;
						} else {
							const outcome = await new KvCache(kv(), this.#kvLastWrite).set(key, entry, Date.now());
							if (outcome === "written") counters.writes++;
							else counters.skippedWrites++;
						}
					} catch (err) {
						counters.errors++;
						this.#warn(tier, err);
					}
				})(),
			);
		}
	}
}
