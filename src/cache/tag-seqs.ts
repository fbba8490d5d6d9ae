import type { Entry } from "./entry";

/** KV keys of the published sequence numbers. */
export const SEQ_KEYS = {
	max: "seq:max",
	floor: "seq:floor",
} as const;

const encoder = new TextEncoder();

/**
 * `seq:t:<tag>`, or `seq:t#<sha-256>` for a tag too long for a KV key. Tags
 * live under their own prefix so that no tag can collide with `seq:max`.
 */
export async function tagSeqKey(tag: string): Promise<string> {
	const key = `seq:t:${tag}`;
	if (encoder.encode(key).length <= 512) return key;
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(tag)));
	return `seq:t#${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export interface TagSeqOptions {
	/** How long this isolate trusts what it read from KV (ms). */
	memoMs: number;
	/** Above this many tags in one invalidation, publish a floor instead of per-tag keys. */
	floorThreshold: number;
}

/** Reads bumps with seq > `after` (at most limit + 1 rows) and the counter, from one D1 snapshot. */
export type DeltaReader = (
	after: number | undefined,
	limit: number,
) => Promise<{ rows: { tag: string; seq: number }[]; counter: number }>;

export interface PublishedSeqs {
	max: number;
	floor: number;
}

/** D1 statements of the invalidation counter. */
export const SEQ_SQL = {
	read: "SELECT value FROM cache_seq WHERE id = 1",
	bump: "UPDATE cache_seq SET value = value + 1 WHERE id = 1",
	readTags: "SELECT tag, seq, handled_seq FROM cache_tag_seq WHERE tag IN (SELECT value FROM json_each(?1))",
	since: "SELECT tag, seq FROM cache_tag_seq WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	unhandled: "SELECT tag, seq FROM cache_tag_seq WHERE seq > handled_seq ORDER BY seq LIMIT ?1",
	// Marks [tag, seq] pairs handled, unless the tag was bumped again meanwhile.
	markHandled:
		"UPDATE cache_tag_seq SET handled_seq = seq WHERE handled_seq < seq AND EXISTS (SELECT 1 FROM json_each(?1) AS j " +
		"WHERE json_extract(j.value, '$[0]') = cache_tag_seq.tag AND json_extract(j.value, '$[1]') = cache_tag_seq.seq)",
	markAllHandled: "UPDATE cache_tag_seq SET handled_seq = seq WHERE seq > handled_seq AND seq <= ?1",
	setFloor:
		"UPDATE cache_state SET value = max(value, (SELECT value FROM cache_seq WHERE id = 1)) WHERE name = 'floor'",
	readFloor: "SELECT value FROM cache_state WHERE name = 'floor'",
	// All tags of one invalidation get the same new value of the counter.
	setTags:
		"INSERT INTO cache_tag_seq (tag, seq) SELECT j.value, (SELECT value FROM cache_seq WHERE id = 1) FROM json_each(?1) AS j WHERE true " +
		"ON CONFLICT(tag) DO UPDATE SET seq = excluded.seq",
} as const;

/**
 * Invalidation sequence numbers as this isolate knows them: what it read from
 * KV (memoised for `memoMs`), merged with what it invalidated itself (so its
 * own next read is fresh even before KV shows the write).
 */
export class TagSeqs {
	readonly options: TagSeqOptions;
	#published: (PublishedSeqs & { fetchedAt: number }) | undefined;
	#tags = new Map<string, { seq: number; fetchedAt: number }>();
	/** Seqs this isolate set itself; they override older KV values. */
	#local = new Map<string, number>();
	#localMax = 0;
	#localFloor = 0;
	#lastPublish = new Map<string, number>();
	/** Per-tag look-ups made (entries older than the published maximum). */
	tagLookups = 0;
	/** The maximum each entry was last found valid against: unchanged maximum, unchanged validity. */
	#validatedAt = new WeakMap<Entry, number>();
	#pendingPublish = new Map<string, { value: number; done: Promise<void> }>();
	/**
	 * Every bump with a seq in (#coverFrom, #coverTo], read from D1 in the
	 * background (tag → its latest seq): entries read at or after #coverFrom
	 * are validated from memory while #coverTo has reached the maximum.
	 */
	#recent = new Map<string, number>();
	#coverFrom = -1;
	#coverTo = -1;
	#deltaAt = Number.NEGATIVE_INFINITY;
	#deltaRunning = false;
	/** Validations answered from the bumps read from D1, without a KV look-up. */
	deltaValidations = 0;

	/** The range of seqs whose bumps this isolate holds (from D1), for stats. */
	get coverage(): { from: number; to: number; tags: number } {
		return { from: this.#coverFrom, to: this.#coverTo, tags: this.#recent.size };
	}

	constructor(options: TagSeqOptions) {
		this.options = options;
	}

	/**
	 * Whether the bumps known from D1 should be brought up to `max`: they lag
	 * behind it, no refresh is running, and none ran in the last memo window.
	 */
	wantsDelta(max: number, now: number): boolean {
		return !this.#deltaRunning && this.#coverTo < max && now - this.#deltaAt >= this.options.memoMs;
	}

	/**
	 * Reads the bumps since the last refresh from D1 (one indexed query and the
	 * counter, from one snapshot). The first refresh only starts coverage at
	 * the counter; too many bumps at once start it again.
	 */
	async refreshDelta(readDelta: DeltaReader, now: number, limit = 1000): Promise<void> {
		if (this.#deltaRunning) return;
		this.#deltaRunning = true;
		this.#deltaAt = now;
		try {
			if (this.#coverTo < 0) {
				const { counter } = await readDelta(undefined, limit);
				this.#coverFrom = this.#coverTo = counter;
				return;
			}
			const { rows, counter } = await readDelta(this.#coverTo, limit);
			if (rows.length > limit || this.#recent.size + rows.length > 50_000) {
				this.#recent.clear();
				this.#coverFrom = this.#coverTo = counter;
				return;
			}
			for (const { tag, seq } of rows) this.#recent.set(tag, Math.max(seq, this.#recent.get(tag) ?? 0));
			this.#coverTo = Math.max(this.#coverTo, counter);
		} finally {
			this.#deltaRunning = false;
		}
	}

	/** The published maximum and floor, read from KV at most once per memo window. */
	async published(kv: KVNamespace, readCounter: () => Promise<number>, now: number): Promise<PublishedSeqs> {
		let state = this.#published;
		if (!state || now - state.fetchedAt >= this.options.memoMs) {
			const values = await kv.get([SEQ_KEYS.max, SEQ_KEYS.floor], "text");
			let max = toSeq(values.get(SEQ_KEYS.max));
			let floor = toSeq(values.get(SEQ_KEYS.floor));
			if (values.get(SEQ_KEYS.max) == null) {
				// Nothing published yet (a new or cold namespace): per-tag keys are
				// missing too, so nothing read before the current counter can be
				// trusted. The counter becomes the floor.
				const counter = await readCounter();
				floor = Math.max(floor, counter);
				max = Math.max(max, counter);
			}
			state = { max, floor, fetchedAt: now };
			this.#published = state;
		}
		return { max: Math.max(state.max, this.#localMax), floor: Math.max(state.floor, this.#localFloor) };
	}

	/**
	 * Whether an entry is still valid: read at or after the floor, and no tag of
	 * it invalidated after it was read. Fast path: read at or after the
	 * published maximum, no per-tag look-up.
	 */
	async isValid(
		kv: KVNamespace,
		readCounter: () => Promise<number>,
		entry: Entry,
		now: number,
		refresh?: (max: number) => void,
	): Promise<boolean> {
		const { max, floor } = await this.published(kv, readCounter, now);
		if (entry.readSeq < floor) return false;
		if (entry.readSeq >= max || this.#validatedAt.get(entry) === max) return true;
		if (this.#coverFrom >= 0 && entry.readSeq >= this.#coverFrom && this.#coverTo >= max) {
			this.deltaValidations++;
			const r = entry.readSeq;
			const valid = entry.tags.every((tag) => (this.#recent.get(tag) ?? 0) <= r && (this.#local.get(tag) ?? 0) <= r);
			if (valid) this.#validatedAt.set(entry, max);
			return valid;
		}
		if (refresh && this.wantsDelta(max, now)) refresh(max);
		this.tagLookups++;
		const seqs = await this.tagSeqs(kv, entry.tags, now);
		const valid = entry.tags.every((tag) => (seqs.get(tag) ?? 0) <= entry.readSeq);
		if (valid) this.#validatedAt.set(entry, max);
		return valid;
	}

	/** Current seqs of these tags (0 for a tag never invalidated). */
	async tagSeqs(kv: KVNamespace, tags: readonly string[], now: number): Promise<Map<string, number>> {
		const result = new Map<string, number>();
		const toFetch: string[] = [];
		for (const tag of tags) {
			const memo = this.#tags.get(tag);
			if (memo && now - memo.fetchedAt < this.options.memoMs) result.set(tag, memo.seq);
			else toFetch.push(tag);
		}
		for (let i = 0; i < toFetch.length; i += 100) {
			const chunk = toFetch.slice(i, i + 100);
			const keys = await Promise.all(chunk.map(tagSeqKey));
			const values = await kv.get(keys, "text");
			chunk.forEach((tag, j) => {
				const seq = toSeq(values.get(keys[j] as string));
				this.#tags.set(tag, { seq, fetchedAt: now });
				result.set(tag, seq);
			});
		}
		if (this.#tags.size > 50_000) this.#pruneMemo(now);
		for (const tag of tags) {
			const local = this.#local.get(tag);
			if (local !== undefined) result.set(tag, Math.max(local, result.get(tag) ?? 0));
		}
		return result;
	}

	/** Records an invalidation seen by this isolate, effective at once for its reads. */
	noteLocal(seqs: ReadonlyMap<string, number>, floor = 0): void {
		if (seqs.size === 0 && floor === 0) return;
		const max = Math.max(floor, ...seqs.values());
		if (floor > 0 || seqs.size > this.options.floorThreshold) this.#localFloor = Math.max(this.#localFloor, max);
		else for (const [tag, seq] of seqs) this.#local.set(tag, Math.max(seq, this.#local.get(tag) ?? 0));
		this.#localMax = Math.max(this.#localMax, max);
		if (this.#local.size > 10_000) {
			// Bounded memory: forgetting per-tag seqs is safe once they become a floor.
			this.#local.clear();
			this.#localFloor = this.#localMax;
		}
	}

	/**
	 * Publishes an invalidation to KV: per-tag keys (or the floor, above the
	 * threshold) before the maximum, so no reader trusts the fast path for a
	 * tag whose key is not written yet. No key is written more than once a
	 * second from this isolate: a later value waits and replaces a pending one.
	 */
	async publish(kv: KVNamespace, seqs: ReadonlyMap<string, number>, floor = 0): Promise<void> {
		const max = Math.max(floor, ...seqs.values());
		const writes =
			floor > 0 || seqs.size > this.options.floorThreshold
				? [[SEQ_KEYS.floor, max] as const]
				: await Promise.all([...seqs].map(async ([tag, seq]) => [await tagSeqKey(tag), seq] as const));
		await Promise.all(writes.map(([key, value]) => this.#write(kv, key, value)));
		await this.#write(kv, SEQ_KEYS.max, max);
	}

	/** Whether an invalidation of this many tags is published as a floor. */
	isFloor(tagCount: number): boolean {
		return tagCount > this.options.floorThreshold;
	}

	// KV's one-write-per-second rule is about real time, whatever clock the engine reads.
	#write(kv: KVNamespace, key: string, value: number): Promise<void> {
		const now = Date.now();
		const pending = this.#pendingPublish.get(key);
		if (pending) {
			pending.value = Math.max(pending.value, value);
			return pending.done;
		}
		const wait = Math.max(0, (this.#lastPublish.get(key) ?? Number.NEGATIVE_INFINITY) + 1000 - now);
		const slot: { value: number; done: Promise<void> } = { value, done: Promise.resolve() };
		// Registered before the write starts, so a later value joins it until it is sent.
		this.#pendingPublish.set(key, slot);
		slot.done = (async () => {
			if (wait > 0) await scheduler.wait(wait);
			this.#pendingPublish.delete(key);
			this.#lastPublish.set(key, Date.now());
			await kv.put(key, String(slot.value));
		})();
		return slot.done;
	}

	#pruneMemo(now: number): void {
		for (const [tag, memo] of this.#tags) if (now - memo.fetchedAt >= this.options.memoMs) this.#tags.delete(tag);
	}

	/** Forgets what was read from KV (the next read goes to KV again). */
	forget(): void {
		this.#published = undefined;
		this.#tags.clear();
	}
}

function toSeq(value: string | null | undefined): number {
	const n = Number(value);
	return value != null && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
