/**
 * An increment of the invalidation clock: every bump `(tag, seq)` with a seq
 * in `(from, to]`, and the floor, as D1 held them at `readAt` (the time the
 * read began, so every write committed before `readAt` has a seq ≤ `to`).
 */
export interface ClockIncrement {
	from: number;
	to: number;
	floor: number;
	readAt: number;
	bumps: [tag: string, seq: number][];
}

/** Whether an entry is valid, invalid, or predates what the view covers (`undefined`). */
export type Validity = boolean | undefined;

/**
 * One isolate's view of D1's invalidations. It covers the seqs in
 * `(coverFrom, counter]`: every tag bumped in that range is in `bumps` with
 * its newest seq. It is complete as of `readAt`: every invalidation committed
 * before then has a seq ≤ `counter`.
 *
 * Views only move forward: `counter`, `readAt` and `floor` never decrease,
 * and `bumps` only holds facts ("tag t was bumped to at least s"), so no
 * order in which increments arrive can make an entry look valid that an
 * increment already seen has overtaken.
 */
export class ClockView {
	floor = 0;
	coverFrom = -1;
	counter = -1;
	readAt = Number.NEGATIVE_INFINITY;
	/**
	 * Moves whenever an answer of `validity` may change (a bump, a floor, the
	 * coverage), not when a refresh only finds nothing new: a validity answer
	 * is reused only while it has not moved.
	 */
	generation = 0;
	readonly #bumps = new Map<string, number>();
	/**
	 * Every bump as it was set, in order of seq (kept sorted lazily: seqs
	 * arrive almost always in order), so that `increment` finds the newest
	 * ones without copying and sorting all of `#bumps`. An entry whose tag
	 * has been bumped again since no longer matches `#bumps` and is skipped.
	 */
	#log: [string, number][] = [];
	#logSorted = true;
	/** Exact seqs of tags looked up one by one, as of a snapshot at or after `coverFrom`. */
	readonly #baseline = new Map<string, number>();
	readonly #maxTags: number;

	constructor(maxTags = 50_000) {
		this.#maxTags = maxTags;
	}

	get ready(): boolean {
		return this.counter >= 0;
	}

	get size(): number {
		return this.#bumps.size;
	}

	get baselineSize(): number {
		return this.#baseline.size;
	}

	/**
	 * An entry read at `readSeq` with these tags: invalid when read before the
	 * floor or when a tag was bumped after it; `undefined` when it was read
	 * before the view's coverage and some tag has no looked-up seq.
	 */
	validity(readSeq: number, tags: readonly string[]): Validity {
		if (!this.ready) return undefined;
		if (readSeq < this.floor) return false;
		const covered = readSeq >= this.coverFrom;
		let unknown = false;
		for (const tag of tags) {
			const bumped = this.#bumps.get(tag);
			if (bumped !== undefined && bumped > readSeq) return false;
			if (!covered) {
				const base = this.#baseline.get(tag);
				if (base === undefined) unknown = true;
				else if (base > readSeq) return false;
			}
		}
		return unknown ? undefined : true;
	}

	/** Tags of an entry read before the coverage whose seq is not known yet. */
	unknownTags(readSeq: number, tags: readonly string[]): string[] {
		if (readSeq >= this.coverFrom) return [];
		return tags.filter((tag) => !this.#baseline.has(tag));
	}

	/**
	 * Adds an increment. Refused (false) when it leaves a gap after what the
	 * view covers, unless its floor makes the gap irrelevant (nothing read
	 * before the floor is valid anyway).
	 */
	apply(increment: ClockIncrement): boolean {
		const { from, to, floor, readAt } = increment;
		if (!(to >= from && from >= 0)) return false;
		if (this.ready && from > this.counter && floor < from) return false;
		// Whether an answer of `validity` may change: only then does the generation move,
		// so a refresh that finds nothing new keeps every answer already given.
		let changed = false;
		if (!this.ready || from > this.counter) {
			this.coverFrom = from;
			this.#baseline.clear();
			changed = true;
		} else if (from < this.coverFrom && to >= this.coverFrom) {
			// Reaches back further than the view did, with no gap: the union is complete.
			this.coverFrom = from;
			changed = true;
		}
		for (const [tag, seq] of increment.bumps) {
			if (seq > (this.#bumps.get(tag) ?? Number.NEGATIVE_INFINITY)) {
				this.#set(tag, seq);
				changed = true;
			}
		}
		if (floor > this.floor) {
			this.floor = floor;
			changed = true;
		}
		this.counter = Math.max(this.counter, to);
		this.readAt = Math.max(this.readAt, readAt);
		if (changed) this.generation++;
		if (this.#bumps.size > this.#maxTags) this.#trim();
		return true;
	}

	/**
	 * Starts the coverage again at `counter` (a view too far behind to catch
	 * up in one read): older entries need a per-tag look-up.
	 */
	restart(counter: number, floor: number, readAt: number): void {
		this.#bumps.clear();
		this.#log = [];
		this.#logSorted = true;
		this.#baseline.clear();
		this.coverFrom = counter;
		this.counter = Math.max(this.counter, counter);
		this.readAt = Math.max(this.readAt, readAt);
		this.floor = Math.max(this.floor, floor);
		this.generation++;
	}

	/** Invalidations this isolate made itself: effective for its next read, before any refresh. */
	note(seqs: ReadonlyMap<string, number>, floor = 0): void {
		for (const [tag, seq] of seqs) {
			if (seq > (this.#bumps.get(tag) ?? Number.NEGATIVE_INFINITY)) this.#set(tag, seq);
		}
		this.floor = Math.max(this.floor, floor);
		this.generation++;
		if (this.#bumps.size > this.#maxTags) this.#trim();
	}

	/** Seqs of tags looked up one by one, read from a snapshot whose counter was `asOf`. */
	addBaseline(rows: Iterable<[string, number]>, tags: readonly string[], asOf: number): void {
		// A snapshot older than the coverage would leave a gap between the two.
		if (!this.ready || asOf < this.coverFrom) return;
		if (this.#baseline.size + tags.length > this.#maxTags) this.#baseline.clear();
		for (const tag of tags) this.#baseline.set(tag, 0);
		for (const [tag, seq] of rows) this.#baseline.set(tag, seq);
		this.generation++;
	}

	/**
	 * The newest part of the view, for the isolates of this location: at most
	 * `maxBumps` bumps, with `from` raised so that the range stays complete.
	 */
	increment(maxBumps: number): ClockIncrement {
		if (!this.#logSorted) {
			this.#log.sort((a, b) => a[1] - b[1]);
			this.#logSorted = true;
		}
		// The newest bumps in (coverFrom, counter], newest first, one more than asked for.
		const newest: [string, number][] = [];
		for (let i = this.#log.length - 1; i >= 0 && newest.length <= maxBumps; i--) {
			const [tag, seq] = this.#log[i] as [string, number];
			if (seq <= this.coverFrom) break;
			if (seq > this.counter || this.#bumps.get(tag) !== seq) continue;
			newest.push([tag, seq]);
		}
		let from = this.coverFrom;
		let bumps = newest;
		if (newest.length > maxBumps) {
			// Too many: the increment starts after the first one left out (and leaves out its ties too).
			from = (newest[maxBumps] as [string, number])[1];
			bumps = newest.slice(0, maxBumps).filter(([, seq]) => seq > from);
		}
		return { from, to: this.counter, floor: this.floor, readAt: this.readAt, bumps };
	}

	#set(tag: string, seq: number): void {
		this.#bumps.set(tag, seq);
		const last = this.#log[this.#log.length - 1];
		if (last && seq < last[1]) this.#logSorted = false;
		this.#log.push([tag, seq]);
		// Entries of tags bumped again since: dropped once they outnumber the live ones.
		if (this.#log.length > 2 * this.#bumps.size + 1024) this.#log = this.#live();
	}

	/** The log's entries that still match `#bumps`, in the log's order. */
	#live(): [string, number][] {
		return this.#log.filter(([tag, seq]) => this.#bumps.get(tag) === seq);
	}

	// Bounded memory: forget the older half of the bumps and start the coverage after them.
	#trim(): void {
		const seqs = [...this.#bumps.values()].sort((a, b) => a - b);
		const cut = seqs[Math.floor(seqs.length / 2)] as number;
		for (const [tag, seq] of this.#bumps) if (seq <= cut) this.#bumps.delete(tag);
		this.#log = this.#live();
		this.coverFrom = Math.max(this.coverFrom, Math.min(cut, this.counter));
		// Forgotten invalidations of this isolate's own (ahead of the counter) become a floor.
		if (cut > this.counter) this.floor = Math.max(this.floor, cut);
		this.#baseline.clear();
	}
}

/** Checks an increment read back from the location's shared copy; anything malformed is ignored. */
export function parseIncrement(value: unknown): ClockIncrement | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const v = value as Record<string, unknown>;
	const ints = [v.from, v.to, v.floor];
	if (!ints.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return undefined;
	if (typeof v.readAt !== "number" || !Number.isFinite(v.readAt) || !Array.isArray(v.bumps)) return undefined;
	for (const bump of v.bumps) {
		if (!Array.isArray(bump) || typeof bump[0] !== "string" || !Number.isSafeInteger(bump[1])) return undefined;
	}
	return value as ClockIncrement;
}
