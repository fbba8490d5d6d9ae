import { type ClockIncrement, ClockView, parseIncrement, type Validity } from "./clock-view.js";

/** Where the clock is read: D1 (the truth) and the location's shared copy (the Cache API). */
export interface ClockSource {
	/**
	 * Bumps with a seq above `after` (at most `limit + 1` rows), the counter
	 * and the floor, from one D1 snapshot. No rows when `after` is undefined.
	 */
	readDelta(
		after: number | undefined,
		limit: number,
	): Promise<{ rows: [string, number][]; counter: number; floor: number }>;
	/** The current seqs of these tags (absent: never bumped) and the counter, from one D1 snapshot. */
	lookupTags(tags: readonly string[]): Promise<{ rows: [string, number][]; counter: number }>;
	/** The increment the isolates of this location share, if any. */
	readShared(): Promise<unknown>;
	writeShared(increment: ClockIncrement): Promise<void>;
	/** The location's refresh lease: who said last that it reads D1 now, and when. */
	readLease(): Promise<unknown>;
	writeLease(lease: ClockLease): Promise<void>;
	/**
	 * The newest counter an isolate of this location committed an
	 * invalidation at, announced so that the others refresh before their
	 * refresh age (optional: without it they learn at the refresh age).
	 */
	readHead?(): Promise<unknown>;
	writeHead?(head: ClockHead): Promise<void>;
}

/** An announced invalidation: its counter, and when it was announced. */
export interface ClockHead {
	counter: number;
	at: number;
}

/** A short claim, shared per location, that one isolate is reading D1 for the others. */
export interface ClockLease {
	id: string;
	at: number;
}

export interface ClockOptions {
	/** A view this old is refreshed in the background (ms), plus up to `jitterMs`. Default 500. */
	refreshAfterMs: number;
	/** Spreads the refreshes of isolates that took the same shared view (ms). Default 250. */
	jitterMs: number;
	/** No entry is validated against a view this old: the request waits for a refresh (ms). Default 1000. */
	maxAgeMs: number;
	/** A shared view that seems to come from this far in the future is not trusted (ms). Default 250. */
	skewToleranceMs: number;
	/** How long a request waits for the clock before treating it as unavailable (ms). Default 3000. */
	timeoutMs: number;
	/** After a failed read of D1, how long requests use the last view without trying again (ms). Default 250. */
	retryAfterMs: number;
	/** More bumps than this in one refresh are a bulk change: the view raises its floor. Default 1000. */
	deltaLimit: number;
	/** Bumps kept in the location's shared view. Default 2000. */
	sharedBumps: number;
	/** Tags a view holds before it forgets its older half. Default 50,000. */
	maxTags: number;
	/** A lease younger than this keeps other isolates from reading D1 in the background (ms). Default 300. */
	leaseMs: number;
	/** Real time a contender waits before reading the lease back (ms). Default 15. */
	leaseSettleMs: number;
	/**
	 * How often a serving isolate looks at the location's announced counter
	 * (`ClockHead`), so that an invalidation another isolate committed through
	 * the engine reaches it before its refresh age (ms; 0: never). Default 100.
	 */
	headCheckMs: number;
}

export const DEFAULT_CLOCK_OPTIONS: ClockOptions = {
	refreshAfterMs: 500,
	jitterMs: 250,
	maxAgeMs: 1000,
	skewToleranceMs: 250,
	timeoutMs: 3000,
	retryAfterMs: 250,
	deltaLimit: 1000,
	sharedBumps: 2000,
	maxTags: 50_000,
	leaseMs: 300,
	leaseSettleMs: 15,
	headCheckMs: 100,
};

export interface ClockCounters {
	/** Reads of the clock from D1. */
	d1Reads: number;
	/** Refreshes answered by the location's shared view, without D1. */
	sharedReads: number;
	/** Per-tag look-ups in D1 for entries read before the view's coverage. */
	tagLookups: number;
	/** Requests that waited for the clock (view absent or older than `maxAgeMs`). */
	waits: number;
	/** Failed reads of the clock. */
	failures: number;
	/** Bulk changes (more than `deltaLimit` bumps at once) turned into a floor. */
	floors: number;
	/** Background refreshes left to another isolate that held the location's lease. */
	leaseDeferrals: number;
	/** Looks at the location's announced counter, and refreshes they started (another isolate had invalidated). */
	headChecks: number;
	headRefreshes: number;
}

/** What a request may rely on: a view younger than `maxAgeMs`, or not (D1 unreachable). */
export interface ClockState {
	available: boolean;
	/** How long the request waited for a refresh (ms), 0 when it did not. */
	waitedMs: number;
}

/** The state of a request that did not wait (one object for all: frozen, states are only read). */
const FRESH: ClockState = Object.freeze({ available: true, waitedMs: 0 });

/**
 * The invalidation clock of one isolate: a view of D1's invalidations that is
 * never older than `maxAgeMs` when a request relies on it. Refreshed in the
 * background from `refreshAfterMs` (jittered), and awaited only past
 * `maxAgeMs`. A refresh first takes the location's shared view (Cache API);
 * only when that is not fresh does it read D1, and then shares the result.
 */
export class InvalidationClock {
	readonly view: ClockView;
	readonly options: ClockOptions;
	readonly counters: ClockCounters = {
		d1Reads: 0,
		sharedReads: 0,
		tagLookups: 0,
		waits: 0,
		failures: 0,
		floors: 0,
		leaseDeferrals: 0,
		headChecks: 0,
		headRefreshes: 0,
	};
	readonly #now: () => number;
	readonly #random: () => number;
	#refreshAt: number;
	#running: Promise<void> | undefined;
	#waiters: (() => void)[] = [];
	#failedAt = Number.NEGATIVE_INFINITY;
	/** After leaving a refresh to the lease holder, no new attempt before this time. */
	#deferredUntil = Number.NEGATIVE_INFINITY;
	/** When this isolate last looked at the location's announced counter. */
	#headCheckedAt = Number.NEGATIVE_INFINITY;
	/** The highest announced counter acted on: each announcement starts at most one refresh here. */
	#headSeen = -1;
	/** A counter the next refresh must reach: a shared view below it does not do, D1 is read. */
	#wanted = -1;
	/** When that counter was announced: a lease taken before it does not keep this isolate from reading D1. */
	#wantedAt = Number.NEGATIVE_INFINITY;

	constructor(options: Partial<ClockOptions>, now: () => number, random: () => number = Math.random) {
		this.options = { ...DEFAULT_CLOCK_OPTIONS, ...options };
		this.view = new ClockView(this.options.maxTags);
		this.#now = now;
		this.#random = random;
		this.#refreshAt = this.#drawRefreshAt();
	}

	/** Milliseconds since the view was complete (Infinity before the first read). */
	age(now = this.#now()): number {
		return now - this.view.readAt;
	}

	/**
	 * Makes sure the view is young enough for a request: nothing to do under
	 * the (jittered) refresh age; a background refresh up to `maxAgeMs`; past
	 * it (or without a view) the request waits for a refresh.
	 */
	async ensureFresh(source: ClockSource, waitUntil: (p: Promise<unknown>) => void): Promise<ClockState> {
		const state = this.stateNow(() => source, waitUntil);
		if (state) return state;
		const now = this.#now();
		if (!this.#running && now - this.#failedAt < this.options.retryAfterMs) return { available: false, waitedMs: 0 };
		this.counters.waits++;
		const started = performance.now();
		await this.#join(source, waitUntil);
		return { available: this.age() < this.options.maxAgeMs, waitedMs: performance.now() - started };
	}

	/**
	 * The request's state when it need not wait (the view is younger than
	 * `maxAgeMs`; from the refresh age a background refresh starts), without
	 * a promise; undefined when it must wait (see `ensureFresh`). `source` is
	 * asked for only when a refresh starts.
	 */
	stateNow(source: () => ClockSource, waitUntil: (p: Promise<unknown>) => void): ClockState | undefined {
		const now = this.#now();
		const age = this.age(now);
		if (age < this.#refreshAt) {
			const every = this.options.headCheckMs;
			if (every > 0 && now - this.#headCheckedAt >= every && !this.#running && now >= this.#deferredUntil) {
				this.#headCheckedAt = now;
				const checked = source();
				if (checked.readHead) waitUntil(this.#checkHead(checked, waitUntil).catch(() => {}));
			}
			return FRESH;
		}
		if (age < this.options.maxAgeMs) {
			if (!this.#running && now >= this.#deferredUntil) {
				waitUntil(this.refresh(source(), waitUntil, { background: true }).catch(() => {}));
			}
			return FRESH;
		}
		return undefined;
	}

	/**
	 * Validity of an entry against the view; entries read before its coverage
	 * get one batched per-tag look-up in D1 (`lookup` false: left undefined).
	 */
	async validity(source: ClockSource, readSeq: number, tags: readonly string[], lookup: boolean): Promise<Validity> {
		const known = this.view.validity(readSeq, tags);
		if (known !== undefined || !lookup) return known;
		const missing = this.view.unknownTags(readSeq, tags);
		this.counters.tagLookups++;
		const { rows, counter } = await source.lookupTags(missing);
		this.view.addBaseline(rows, missing, counter);
		return this.view.validity(readSeq, tags);
	}

	/** Invalidations this isolate committed: its next read sees them, whatever the view's age. */
	note(seqs: ReadonlyMap<string, number>, floor = 0): void {
		this.view.note(seqs, floor);
	}

	/**
	 * Tells the other isolates of this location that an invalidation was
	 * committed at `counter`: they refresh within `headCheckMs` instead of at
	 * their refresh age. Never throws.
	 */
	async announce(source: ClockSource, counter: number): Promise<void> {
		if (!source.writeHead || !(counter > 0) || this.options.headCheckMs <= 0) return;
		this.#headSeen = Math.max(this.#headSeen, counter);
		await source.writeHead({ counter, at: this.#now() }).catch(() => {});
	}

	/** Looks at the announced counter; one above the view (and not acted on yet) starts a refresh that must reach it. */
	async #checkHead(source: ClockSource, waitUntil: (p: Promise<unknown>) => void): Promise<void> {
		this.counters.headChecks++;
		const head = parseHead(await source.readHead?.());
		if (!head || head.counter <= Math.max(this.view.counter, this.#headSeen)) return;
		if (this.#running) return;
		if (head.counter > this.#wanted) {
			this.#wanted = head.counter;
			this.#wantedAt = head.at;
		}
		this.counters.headRefreshes++;
		await this.refresh(source, waitUntil, { background: true });
	}

	/**
	 * Refreshes the view (one refresh at a time per isolate; a caller joins a
	 * running one). A background refresh reads D1 only if it wins the
	 * location's lease; one a request waits for always may.
	 */
	refresh(
		source: ClockSource,
		waitUntil: (p: Promise<unknown>) => void,
		{ background = false }: { background?: boolean } = {},
	): Promise<void> {
		if (this.#running) return this.#running;
		const run = this.#refresh(source, waitUntil, background).finally(() => {
			this.#running = undefined;
			const waiters = this.#waiters;
			this.#waiters = [];
			for (const wake of waiters) wake();
		});
		this.#running = run;
		return run;
	}

	/**
	 * Waits for a refresh on a promise of this request's own (a Worker cancels
	 * continuations on promises of a request that has finished), bounded by
	 * `timeoutMs`; failures are the refresh's, counted there.
	 */
	#join(source: ClockSource, waitUntil: (p: Promise<unknown>) => void): Promise<void> {
		return new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, this.options.timeoutMs);
			this.#waiters.push(() => {
				clearTimeout(timer);
				resolve();
			});
			if (!this.#running) waitUntil(this.refresh(source, waitUntil).catch(() => {}));
		});
	}

	async #refresh(source: ClockSource, waitUntil: (p: Promise<unknown>) => void, background: boolean): Promise<void> {
		const started = this.#now();
		const wasReady = this.view.ready;
		const shared = await source.readShared().then(parseIncrement, () => undefined);
		// A shared view from the future (a skewed clock) is not trusted beyond a small tolerance.
		if (shared && shared.readAt - started <= this.options.skewToleranceMs) {
			const taken = this.view.apply({ ...shared, readAt: Math.min(shared.readAt, started) });
			if (taken && started - this.view.readAt < this.options.refreshAfterMs && this.view.counter >= this.#wanted) {
				this.counters.sharedReads++;
				this.#refreshAt = this.#drawRefreshAt();
				this.#wanted = -1;
				return;
			}
		}
		// The lease is read only when the shared view would not do (one Cache API read less per refresh that takes it).
		const lease = background ? await source.readLease().then(parseLease, () => undefined) : undefined;
		if (background && !(await this.#winLease(source, lease, started, this.#wanted >= 0 ? this.#wantedAt : undefined))) {
			// Another isolate of this location reads D1 now: keep this view, take theirs soon.
			this.counters.leaseDeferrals++;
			this.#deferredUntil = started + this.options.leaseSettleMs * 2;
			return;
		}
		try {
			const limit = this.options.deltaLimit;
			const after = this.view.ready ? this.view.counter : undefined;
			const { rows, counter, floor } = await source.readDelta(after, limit);
			this.counters.d1Reads++;
			// D1 read after the announcement: whatever was announced is in it (never asked for again).
			this.#headSeen = Math.max(this.#headSeen, this.#wanted);
			this.#wanted = -1;
			if (rows.length > limit) {
				if (wasReady) {
					// A bulk change, too large to carry: nothing read before it is trusted.
					this.counters.floors++;
					this.view.apply({ from: counter, to: counter, floor: counter, readAt: started, bumps: [] });
				} else {
					this.view.restart(counter, floor, started);
				}
			} else {
				this.view.apply({ from: after ?? counter, to: counter, floor, readAt: started, bumps: rows });
			}
		} catch (err) {
			this.counters.failures++;
			this.#failedAt = this.#now();
			throw err;
		}
		this.#refreshAt = this.#drawRefreshAt();
		waitUntil(source.writeShared(this.view.increment(this.options.sharedBumps)).catch(() => {}));
	}

	/**
	 * The lease on a last-writer-wins store: no contender while another's
	 * claim is young; otherwise claim, let concurrent claims land, and read
	 * back — the last writer wins, the others defer to it.
	 */
	async #winLease(
		source: ClockSource,
		current: ClockLease | undefined,
		now: number,
		announcedAt?: number,
	): Promise<boolean> {
		const { leaseMs, skewToleranceMs, leaseSettleMs } = this.options;
		// A lease taken before an announced invalidation is for a read that may not include it;
		// but one younger than half a head period still holds, so that a stream of writes costs a
		// location at most one D1 clock read per half period.
		const before =
			announcedAt !== undefined &&
			current !== undefined &&
			current.at < announcedAt &&
			now - current.at >= this.options.headCheckMs / 2;
		if (current && !before && current.at - now <= skewToleranceMs && now - current.at < leaseMs) return false;
		const id = crypto.randomUUID();
		try {
			await source.writeLease({ id, at: now });
			await scheduler.wait(leaseSettleMs);
			const back = parseLease(await source.readLease());
			return !back || back.id === id;
		} catch {
			return true; // the Cache API failing must not stop the clock
		}
	}

	#drawRefreshAt(): number {
		return this.options.refreshAfterMs + this.#random() * this.options.jitterMs;
	}
}

function parseHead(value: unknown): ClockHead | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const { counter, at } = value as Record<string, unknown>;
	return typeof counter === "number" && Number.isSafeInteger(counter) && typeof at === "number" && Number.isFinite(at)
		? { counter, at }
		: undefined;
}

function parseLease(value: unknown): ClockLease | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const { id, at } = value as Record<string, unknown>;
	return typeof id === "string" && typeof at === "number" && Number.isFinite(at) ? { id, at } : undefined;
}
