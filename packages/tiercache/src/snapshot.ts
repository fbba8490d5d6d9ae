const MADE_BY_THE_ENGINE = Symbol("tiercache snapshot");

/**
 * The `cache_seq` of one D1 transaction, as the engine read it inside that
 * transaction (`TierCache.batch`): answers built from rows the same
 * transaction read or returned may be stored at it (`TierCache.store`).
 * Only the engine makes one, so no answer is stored at a number that did not
 * come with its data.
 */
export class Snapshot {
	readonly readSeq: number;

	/** @internal */
	constructor(readSeq: number, madeBy: symbol) {
		if (madeBy !== MADE_BY_THE_ENGINE) throw new Error("a Snapshot comes from cache.batch(), not from new Snapshot()");
		if (!Number.isSafeInteger(readSeq) || readSeq < 0) throw new Error(`not a cache_seq: ${String(readSeq)}`);
		this.readSeq = readSeq;
	}
}

/** @internal */
export function snapshotAt(readSeq: number): Snapshot {
	return new Snapshot(readSeq, MADE_BY_THE_ENGINE);
}
