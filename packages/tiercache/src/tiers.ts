import type { ColoCache } from "./colo-cache.js";
import { within } from "./deadline.js";
import type { Entry } from "./entry.js";
import { KvCache } from "./kv-cache.js";
import type { MemoryLru } from "./memory-lru.js";
import type { TierName } from "./policy.js";
import type { CacheStats } from "./stats.js";
import type { WaitUntil } from "./write-scope.js";

/** Why a tier read has no answer to give: the tier failed, or did not answer within `tierTimeoutMs`. */
export class TierFailure {
	private constructor(readonly reason: "error" | "timeout") {}
	static readonly error = new TierFailure("error");
	static readonly timeout = new TierFailure("timeout");
}

/** The default of `tierTimeoutMs`. */
export const DEFAULT_TIER_TIMEOUT_MS = 1000;

/**
 * T1–T3 behind one interface: reads that never throw and never wait longer
 * than `timeoutMs`, writes off the answer's path, counted.
 */
export class TierStore {
	readonly #memory: MemoryLru;
	readonly #colo: ColoCache;
	readonly #stats: CacheStats;
	readonly #warn: (kind: string, err: unknown) => void;
	readonly #timeoutMs: number;
	/** KV's one-write-per-key-per-second rule, per isolate. */
	readonly #kvLastWrite = new Map<string, number>();

	constructor(
		memory: MemoryLru,
		colo: ColoCache,
		stats: CacheStats,
		warn: (kind: string, err: unknown) => void,
		timeoutMs = DEFAULT_TIER_TIMEOUT_MS,
	) {
		this.#memory = memory;
		this.#colo = colo;
		this.#stats = stats;
		this.#warn = warn;
		this.#timeoutMs = timeoutMs;
	}

	/**
	 * An entry, undefined for a miss, or why there is no answer (a miss that is
	 * counted as an error): the tier failed, or took longer than `timeoutMs`
	 * (its late answer is dropped).
	 */
	async get(kv: () => KVNamespace, tier: TierName, key: string): Promise<Entry | undefined | TierFailure> {
		try {
			if (tier === "memory") return this.#memory.get(key);
			const read = tier === "colo" ? this.#colo.get(key) : new KvCache(kv(), this.#kvLastWrite).get(key);
			const answer = await within(read, this.#timeoutMs, TierFailure.timeout);
			if (answer === TierFailure.timeout) {
				this.#stats.tiers[tier].timeouts++;
				this.#warn(tier, new Error(`${tier} read: no answer within ${this.#timeoutMs} ms`));
			}
			return answer;
		} catch (err) {
			this.#warn(tier, err);
			return TierFailure.error;
		}
	}

	/**
	 * Stores an entry in these tiers: memory at once, the Cache API and KV in
	 * `waitUntil`. With `evict` false, memory takes it only if it has room
	 * (see `MemoryLru.set`).
	 */
	store(
		kv: () => KVNamespace,
		waitUntil: WaitUntil,
		tiers: readonly TierName[],
		key: string,
		entry: Entry,
		evict = true,
	): void {
		for (const tier of tiers) {
			const counters = this.#stats.tiers[tier];
			if (tier === "memory") {
				if (this.#memory.set(key, entry, evict)) counters.writes++;
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
