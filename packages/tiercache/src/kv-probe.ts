/** When a read the Cache API could not answer asks KV (see `KvProbeGate`). */
export interface KvProbeOptions {
	/** Below this share of probes answered, KV is asked by one read in `sampleEvery`. Default 0.02. */
	minHitRate: number;
	/** While below `minHitRate`, every this-many-th read past the Cache API still asks KV. Default 16. */
	sampleEvery: number;
}

export const DEFAULT_KV_PROBE: KvProbeOptions = { minHitRate: 0.02, sampleEvery: 16 };

/** The weight of one probe in the moving hit rate: about the last 32 probes count. */
const WEIGHT = 1 / 32;
/** The rate an isolate starts with: it backs off only after about 80 probes that KV did not answer. */
const START_RATE = 0.25;

/**
 * Whether a read that memory and the Cache API could not answer asks KV.
 *
 * KV is the tier shared between locations: it answers a location's first
 * read of a key that another location loaded. Where it answers none of them
 * (a deployment at one location, or keys no other location reads), each
 * probe is a KV read that misses: a billed operation, a key the location's
 * KV cache lacks is looked up in KV's central store, and locally it is the
 * dearest step of a miss (about 0.7 ms of CPU in Miniflare). The gate keeps a
 * moving hit rate of this isolate's probes; below `minHitRate` only every
 * `sampleEvery`-th read probes, and (with the default `minHitRate`) one
 * answer among those lifts the rate above it again. Skipping a probe never serves anything older: the read
 * loads from the origin as a KV miss would.
 */
export class KvProbeGate {
	readonly #options: KvProbeOptions;
	#rate = START_RATE;
	#sinceProbe = 0;

	constructor(options: Partial<KvProbeOptions> = {}) {
		const merged = { ...DEFAULT_KV_PROBE, ...options };
		if (!(merged.minHitRate >= 0 && merged.minHitRate < 1)) {
			throw new Error(`kvProbe.minHitRate must be in [0, 1), got ${merged.minHitRate}`);
		}
		if (!Number.isInteger(merged.sampleEvery) || merged.sampleEvery < 1) {
			throw new Error(`kvProbe.sampleEvery must be a positive integer, got ${merged.sampleEvery}`);
		}
		this.#options = merged;
	}

	/** The moving share of probes KV answered. */
	get hitRate(): number {
		return this.#rate;
	}

	/** Whether this read asks KV; a read told no loads from the origin. */
	shouldProbe(): boolean {
		if (this.#rate >= this.#options.minHitRate || ++this.#sinceProbe >= this.#options.sampleEvery) {
			this.#sinceProbe = 0;
			return true;
		}
		return false;
	}

	/** A probe's outcome: whether KV answered the read (a valid entry it could serve). */
	record(answered: boolean): void {
		this.#rate += WEIGHT * ((answered ? 1 : 0) - this.#rate);
	}
}
