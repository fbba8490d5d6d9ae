/**
 * The most requested keys of this isolate, in bounded memory: a count per
 * key, halved for all when the table is full (so old heat fades) and the
 * coldest half dropped. Enough to re-warm hot keys after an invalidation.
 */
export interface HotKey {
	key: string;
	/** Path and query of a request that reads this key. */
	path: string;
	/** The tags of the entry last read under this key (entries are never changed, so it is kept, not copied). */
	tags: readonly string[];
	count: number;
}

export class HotKeys {
	readonly capacity: number;
	#keys = new Map<string, HotKey>();

	constructor(capacity = 512) {
		this.capacity = capacity;
	}

	get size(): number {
		return this.#keys.size;
	}

	record(key: string, path: string, tags: readonly string[]): void {
		const hot = this.#keys.get(key);
		if (hot) {
			hot.count++;
			hot.path = path;
			hot.tags = tags;
			return;
		}
		if (this.#keys.size >= this.capacity) this.#decay();
		this.#keys.set(key, { key, path, tags, count: 1 });
	}

	/**
	 * The hottest keys whose tags meet `tags` (all keys when `tags` is
	 * undefined) and that were read at least `minReads` times, hottest first.
	 */
	hottest(tags: ReadonlySet<string> | undefined, max: number, minReads = 1): HotKey[] {
		const matching = [...this.#keys.values()].filter(
			(h) => h.count >= minReads && (!tags || h.tags.some((t) => tags.has(t))),
		);
		return matching.sort((a, b) => b.count - a.count).slice(0, max);
	}

	#decay(): void {
		const sorted = [...this.#keys.values()].sort((a, b) => b.count - a.count);
		this.#keys = new Map(
			sorted.slice(0, Math.floor(this.capacity / 2)).map((h) => [h.key, { ...h, count: Math.ceil(h.count / 2) }]),
		);
	}
}
