import { type ClockIncrement, ClockView, parseIncrement, type Validity } from "./clock-view.js";
import { LATE, TimeoutError, within } from "./deadline.js";

/** Where the clock is read: D1 (the truth) and the location's shared copy (the Cache API). */
export interface ClockSource {
	/**
	 * Bumps with a seq above `after` (at most `limit + 1` rows), the counter
	 * and the floor, from one D1 snapshot. No rows when `after` is undefined.
	 */
	readDelta(after: number | undefined, limit: number): Promise<ClockDelta>;
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

/** What a clock read returns: bumps above the view's counter, the counter and the floor, from one D1 snapshot. */
export interface ClockDelta {
	rows: [string, number][];
	counter: number;
	floor: number;
}

/** An announced invalidation: its counter, and when it was announced. */
export interface ClockHead {
	counter: number;
	at: number;
	/**
	 * The announcer's last bumps up to (at least) `counter`: an isolate whose
	 * view reaches back to its `from` takes it from the look itself, without
	 * a refresh (and so without making requests wait for one).
	 */
	increment?: ClockIncrement;
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
	 * Read-your-location's-writes (ms; 0: off). A serving isolate relies on
	 * what it last saw of the location's announced counter (`ClockHead`) for
	 * at most this long, and looks again in the background after three quarters of it;
	 * an isolate that committed an invalidation through the engine announces
	 * it and answers only this long after the announcement landed. So a read
	 * that starts after the answer, at any isolate of the location, sees the
	 * invalidation. Off, the other isolates learn at their refresh age.
	 * Default 50: every busy isolate reads the location's announcement
	 * (a small Cache API entry) about 27 times a second, in the background
	 * (I/O on Cloudflare, not billed CPU); 100 halves that and makes writes
	 * answer 50 ms later.
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
	headCheckMs: 50,
};

export interface ClockCounters {
	/** Reads of the clock from D1. */
	d1Reads: number;
	/** Refreshes answered by the location's shared view, or by it and its last announcement, without D1. */
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
	/** Looks that reached an announced counter with the bumps the announcement carried: no refresh, no wait. */
	headTakes: number;
	/** Requests that waited for a look at the announced counter, or for the refresh it started. */
	headWaits: number;
	/**
	 * Looks that failed or got no answer within `headCheckMs`: the isolate
	 * went on with what it knew (the refresh age still bounds what it serves).
	 */
	headLookFailures: number;
	/**
	 * Announcements this isolate made, and those it made again (a lower one
	 * landed over it: another isolate's, or a slower one of its own).
	 */
	announcements: number;
	reannouncements: number;
	/**
	 * Writes that answered without their announcement confirmed: a Cache API
	 * operation of it failed, or it had not finished within `timeoutMs`. The
	 * location's other isolates learn of those at their refresh age.
	 */
	announceFailures: number;
}

/** What a request may rely on: a view younger than `maxAgeMs`, or not (D1 unreachable). */
export interface ClockState {
	available: boolean;
	/** Whether the request waited for a refresh or a look at the announced counter, and how long (ms). */
	waited: boolean;
	waitedMs: number;
}

/**
 * Bumps an announcement carries (the announcer's last ones): enough for an
 * isolate that looks every three quarters of `headCheckMs` to join them to
 * its view unless more tags than this were invalidated in between, small
 * enough that every look stays cheap to read.
 */
const HEAD_BUMPS = 64;

/** A look at the announced counter that failed, or got no answer in time. */
const LOOK_FAILED: unique symbol = Symbol("look failed");

/** The state of a request that did not wait (one object for all: frozen, states are only read). */
const FRESH: ClockState = Object.freeze({ available: true, waited: false, waitedMs: 0 });

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
		headTakes: 0,
		headWaits: 0,
		headLookFailures: 0,
		announcements: 0,
		reannouncements: 0,
		announceFailures: 0,
	};
	readonly #now: () => number;
	readonly #random: () => number;
	#refreshAt: number;
	#running: Promise<void> | undefined;
	#waiters: (() => void)[] = [];
	#failedAt = Number.NEGATIVE_INFINITY;
	/** After leaving a refresh to the lease holder, no new attempt before this time. */
	#deferredUntil = Number.NEGATIVE_INFINITY;
	/** When this isolate last started a look at the location's announced counter. */
	#headCheckedAt = Number.NEGATIVE_INFINITY;
	/** The look in flight, if any. */
	#headCheck: Promise<void> | undefined;
	/**
	 * Every invalidation announced before this time is in the view (the start
	 * of the last look whose counter the view had reached).
	 */
	#headKnownAt = Number.NEGATIVE_INFINITY;
	/**
	 * When this isolate itself last read D1's clock (a refresh, or its own
	 * write's batch): every announcement made before it is in the view. A
	 * shared view's time is not: it comes from another isolate's clock,
	 * which may run ahead by up to `skewToleranceMs`.
	 */
	#ownReadAt = Number.NEGATIVE_INFINITY;
	/** An announced counter the view has not reached yet: requests wait for the refresh that reaches it. */
	#wanted = -1;
	/** What reaching `#wanted` makes known: every announcement made before this time. */
	#wantedKnownAt = Number.NEGATIVE_INFINITY;
	/** The last write of the shared view a refresh started (an announcement waits for it). */
	#sharing: Promise<void> | undefined;
	/** The highest counter this isolate announced. */
	#announced = 0;
	/** The highest counter of a shared view this isolate wrote or read: what it knows the location's shared view reaches. */
	#sharedTo = Number.NEGATIVE_INFINITY;
	readonly #sleep: (ms: number) => Promise<void>;

	constructor(
		options: Partial<ClockOptions>,
		now: () => number,
		random: () => number = Math.random,
		sleep: (ms: number) => Promise<void> = (ms) => scheduler.wait(ms),
	) {
		this.options = { ...DEFAULT_CLOCK_OPTIONS, ...options };
		this.view = new ClockView(this.options.maxTags);
		this.#now = now;
		this.#random = random;
		this.#sleep = sleep;
		this.#refreshAt = this.#drawRefreshAt();
	}

	/** Milliseconds since the view was complete (Infinity before the first read). */
	age(now = this.#now()): number {
		return now - this.view.readAt;
	}

	/**
	 * Makes sure the view is young enough for a request: nothing to do under
	 * the (jittered) refresh age; a background refresh up to `maxAgeMs`; past
	 * it (or without a view) the request waits for a refresh. With
	 * `headCheckMs`, it also waits while what the isolate knows of the
	 * location's announcements is older than that, or an announced
	 * invalidation is not in the view yet.
	 */
	async ensureFresh(source: ClockSource, waitUntil: (p: Promise<unknown>) => void): Promise<ClockState> {
		if (this.stateNow(() => source, waitUntil)) return FRESH;
		this.#withoutAnnouncements(source);
		const started = performance.now();
		let waited = false;
		// Each round waits for one refresh or one look; a failing or slow clock ends the rounds.
		for (let round = 0; round < 3; round++) {
			const now = this.#now();
			const waitsForRefresh = this.age(now) >= this.options.maxAgeMs;
			const chases = !waitsForRefresh && this.#wanted > this.view.counter;
			if (!waitsForRefresh && !chases && !this.#headStale(now)) break;
			if ((waitsForRefresh || chases) && !this.#running && now - this.#failedAt < this.options.retryAfterMs) break;
			if (waitsForRefresh) this.counters.waits++;
			else this.counters.headWaits++;
			waited = true;
			await this.#waitFor(() => {
				if (waitsForRefresh || chases) {
					if (!this.#running) waitUntil(this.refresh(source, waitUntil).catch(() => {}));
				} else this.#lookAtHead(source, waitUntil, now);
			});
		}
		return { available: this.age() < this.options.maxAgeMs, waited, waitedMs: performance.now() - started };
	}

	/**
	 * The request's state when it need not wait (the view is younger than
	 * `maxAgeMs` and, with `headCheckMs`, has every announcement made up to
	 * `headCheckMs` ago), without a promise; undefined when it must wait (see
	 * `ensureFresh`). Starts background refreshes and looks. `source` is asked
	 * for only when one starts.
	 */
	stateNow(source: () => ClockSource, waitUntil: (p: Promise<unknown>) => void): ClockState | undefined {
		const now = this.#now();
		const age = this.age(now);
		if (age >= this.options.maxAgeMs) return undefined;
		if (age >= this.#refreshAt && !this.#running && now >= this.#deferredUntil) {
			waitUntil(this.refresh(source(), waitUntil, { background: true }).catch(() => {}));
		}
		const every = this.options.headCheckMs;
		if (every > 0) {
			if (this.#wanted > this.view.counter || this.#headStale(now)) return undefined;
			if (now - this.#headCheckedAt >= every * 0.75 && !this.#headCheck) this.#lookAtHead(source(), waitUntil, now);
		}
		return FRESH;
	}

	/** Whether what this isolate knows of the location's announcements is too old to serve on. */
	#headStale(now: number): boolean {
		const every = this.options.headCheckMs;
		return every > 0 && now - Math.max(this.#headKnownAt, this.#ownReadAt) >= every;
	}

	/**
	 * Validity of an entry against the view; entries read before its coverage
	 * get one batched per-tag look-up in D1 (`lookup` false: left undefined),
	 * which fails when it takes longer than `lookupTimeoutMs`.
	 */
	async validity(
		source: ClockSource,
		readSeq: number,
		tags: readonly string[],
		lookup: boolean,
		lookupTimeoutMs: number,
	): Promise<Validity> {
		const known = this.view.validity(readSeq, tags);
		if (known !== undefined || !lookup) return known;
		const missing = this.view.unknownTags(readSeq, tags);
		this.counters.tagLookups++;
		const answer = await within(source.lookupTags(missing), lookupTimeoutMs, LATE);
		if (answer === LATE) throw new TimeoutError(`tag look-up: no answer within ${lookupTimeoutMs} ms`);
		const { rows, counter } = answer;
		this.view.addBaseline(rows, missing, counter);
		return this.view.validity(readSeq, tags);
	}

	/** Invalidations this isolate committed: its next read sees them, whatever the view's age. */
	note(seqs: ReadonlyMap<string, number>, floor = 0): void {
		this.view.note(seqs, floor);
	}

	/**
	 * Tells the other isolates of this location that an invalidation was
	 * committed at `counter`, and returns when any read they start will see
	 * it: the counter is announced and, `headCheckMs` after it landed, read
	 * back (announced again if another isolate's lower announcement landed
	 * over it). Meanwhile the location's shared view is brought up to the
	 * counter, so that an isolate the announcement's bumps do not suffice
	 * takes it from the Cache API, not D1. Never throws: a failing Cache API
	 * leaves the others to their refresh age.
	 */
	async announce(source: ClockSource, counter: number, waitUntil: (p: Promise<unknown>) => void): Promise<void> {
		const every = this.options.headCheckMs;
		if (!source.writeHead || !source.readHead || !(counter > 0) || every <= 0) return;
		// A hanging Cache API holds a write's answer at most `timeoutMs` (real time); the rest goes on in the background.
		const head = { readHead: source.readHead.bind(source), writeHead: source.writeHead.bind(source) };
		const announced = this.#announce(source, head, counter, waitUntil, every);
		waitUntil(announced);
		if ((await within(announced, this.options.timeoutMs, false)) !== true) this.counters.announceFailures++;
	}

	async #announce(
		source: ClockSource,
		{ readHead, writeHead }: Required<Pick<ClockSource, "readHead" | "writeHead">>,
		counter: number,
		waitUntil: (p: Promise<unknown>) => void,
		every: number,
	): Promise<boolean> {
		let shared: Promise<void> | undefined;
		if (this.view.counter >= counter) {
			// The write's own batch brought the view up to it. The announcement carries the last
			// HEAD_BUMPS bumps, enough for any reader that has the location's shared view; that view
			// (up to `sharedBumps`: tens of kB to serialize and write) is written again only when
			// more than half an announcement's bumps came since the one this isolate last wrote or
			// read, so it is there before an announcement's bumps stop reaching back to it.
			if (this.view.increment(HEAD_BUMPS / 2).from > this.#sharedTo) shared = this.#share(source);
		} else {
			// A refresh already running may have read D1 before the commit: a second one is after it.
			for (let round = 0; round < 2 && this.view.counter < counter; round++) {
				this.#want(counter, Number.NEGATIVE_INFINITY);
				await this.refresh(source, waitUntil).catch(() => {});
			}
			await this.#sharing;
		}
		this.counters.announcements++;
		try {
			await this.#writeHead(writeHead, counter);
			for (let round = 0; round < 3; round++) {
				await this.#sleep(every);
				const back = parseHead(await readHead());
				if (back && back.counter >= counter) return true;
				this.counters.reannouncements++;
				await this.#writeHead(writeHead, counter);
			}
			return false;
		} catch {
			// The Cache API failing: the others learn at their refresh age.
			return false;
		} finally {
			await shared;
		}
	}

	/**
	 * Writes the location's head, announcing the highest counter this isolate
	 * knows committed (at least `counter`). The write does not read the head
	 * first (that cost every write a round trip before its wait): an
	 * announcement that lands lower over a higher one is written again by
	 * the higher one's read-back or, when both are this isolate's (a slow
	 * write overtaken by a later one), at once by the slow one. Each request
	 * makes its own writes, not chained behind another request's: I/O
	 * started for one request is lost when that request ends.
	 */
	async #writeHead(writeHead: (head: ClockHead) => Promise<void>, counter: number): Promise<void> {
		this.#announced = Math.max(this.#announced, counter, this.view.ready ? this.view.counter : 0);
		const written = this.#announced;
		await writeHead(this.#head(written));
		if (this.#announced > written) {
			this.counters.reannouncements++;
			await writeHead(this.#head(this.#announced));
		}
	}

	/** An announcement of `counter`, with the view's last bumps when the view has reached it. */
	#head(counter: number): ClockHead {
		const head: ClockHead = { counter, at: this.#now() };
		if (this.view.ready && this.view.counter >= counter) head.increment = this.view.increment(HEAD_BUMPS);
		return head;
	}

	/**
	 * Starts a look at the announced counter (unless one started at `now` is
	 * in flight); one above the view makes the isolate want it, and starts
	 * the refresh that reaches it (from the shared view the announcer left,
	 * else D1).
	 */
	#lookAtHead(source: ClockSource, waitUntil: (p: Promise<unknown>) => void, now: number): void {
		if (this.#withoutAnnouncements(source)) {
			this.#wake();
			return;
		}
		if (this.#headCheck && now - this.#headCheckedAt < this.options.headCheckMs) return;
		this.#headCheckedAt = now;
		this.counters.headChecks++;
		const look = (async () => {
			const read = await within(
				source.readHead?.().catch(() => LOOK_FAILED) ?? Promise.resolve(undefined),
				this.options.headCheckMs,
				LOOK_FAILED,
			);
			// Unreadable or not answering within a period: the Cache API failing; the refresh age still bounds what is served.
			if (read === LOOK_FAILED) this.counters.headLookFailures++;
			const head = parseHead(read);
			if (!head || head.counter <= this.view.counter) {
				this.#headKnownAt = Math.max(this.#headKnownAt, now);
				return;
			}
			if (this.#takeHead(head, now)) return;
			this.#want(head.counter, now);
			if (!this.#running) {
				this.counters.headRefreshes++;
				await this.refresh(source, waitUntil).catch(() => {});
			}
		})().finally(() => {
			if (this.#headCheck === look) this.#headCheck = undefined;
			this.#wake();
		});
		this.#headCheck = look;
		waitUntil(look);
	}

	/** A source without announcements has nothing to look at, ever: the refresh age alone bounds what is served. */
	#withoutAnnouncements(source: ClockSource): boolean {
		if (source.readHead) return false;
		this.#headKnownAt = Number.POSITIVE_INFINITY;
		return true;
	}

	/**
	 * Brings the view up to an announced counter with the bumps the
	 * announcement carried, when they join what the view covers (and do not
	 * come from a skewed future); false to leave it to a refresh.
	 */
	#takeHead(head: ClockHead, now: number): boolean {
		if (!this.#applyHead(head, now)) return false;
		this.counters.headTakes++;
		this.#headKnownAt = Math.max(this.#headKnownAt, now);
		this.#settleWanted();
		return true;
	}

	/** Applies the bumps an announcement carries when they join the view and reach its counter. */
	#applyHead(head: ClockHead, now: number): boolean {
		const increment = head.increment;
		if (!increment || !this.view.ready || increment.from > this.view.counter || increment.to < head.counter)
			return false;
		return this.#applyShared(increment, now);
	}

	/**
	 * Applies bumps another isolate shared (its view, or an announcement's),
	 * as of no later than `now`; refused when they seem to come from a clock
	 * running ahead beyond the tolerance, or leave a gap.
	 */
	#applyShared(increment: ClockIncrement, now: number): boolean {
		if (increment.readAt - now > this.options.skewToleranceMs) return false;
		return this.view.apply({ ...increment, readAt: Math.min(increment.readAt, now) });
	}

	/** The view must reach `counter`; reaching it makes every announcement before `knownAt` known. */
	#want(counter: number, knownAt: number): void {
		if (counter > this.#wanted) this.#wanted = counter;
		this.#wantedKnownAt = Math.max(this.#wantedKnownAt, knownAt);
	}

	/** After a refresh: an announced counter the view reached is no longer wanted. */
	#settleWanted(): void {
		if (this.#wanted >= 0 && this.view.counter >= this.#wanted) {
			this.#headKnownAt = Math.max(this.#headKnownAt, this.#wantedKnownAt);
			this.#wanted = -1;
			this.#wantedKnownAt = Number.NEGATIVE_INFINITY;
		}
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
			this.#settleWanted();
			this.#wake();
		});
		this.#running = run;
		return run;
	}

	/**
	 * Waits, on a promise of this request's own (a Worker cancels
	 * continuations on promises of a request that has finished), until the
	 * next refresh or look ends, bounded by `timeoutMs`; `start` starts one
	 * if needed. Failures are the refresh's, counted there.
	 */
	#waitFor(start: () => void): Promise<void> {
		return new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, this.options.timeoutMs);
			this.#waiters.push(() => {
				clearTimeout(timer);
				resolve();
			});
			start();
		});
	}

	#wake(): void {
		const waiters = this.#waiters;
		this.#waiters = [];
		for (const wake of waiters) wake();
	}

	async #refresh(source: ClockSource, waitUntil: (p: Promise<unknown>) => void, background: boolean): Promise<void> {
		const started = this.#now();
		const wasReady = this.view.ready;
		const shared = await source.readShared().then(parseIncrement, () => undefined);
		if (shared) {
			this.#sharedTo = Math.max(this.#sharedTo, shared.to);
			if (this.#applyShared(shared, started) && this.#youngAt(started)) {
				this.counters.sharedReads++;
				this.#refreshAt = this.#drawRefreshAt();
				return;
			}
		}
		if (await this.#takeAnnounced(source, started)) {
			this.counters.sharedReads++;
			this.#refreshAt = this.#drawRefreshAt();
			return;
		}
		// Chasing an announced invalidation the shared view lacks, requests wait: no lease, D1 now.
		const leased = background && this.#wanted <= this.view.counter;
		// The lease is read only when the shared view would not do (one Cache API read less per refresh that takes it).
		const lease = leased ? await source.readLease().then(parseLease, () => undefined) : undefined;
		if (leased && !(await this.#winLease(source, lease, started))) {
			// Another isolate of this location reads D1 now: keep this view, take theirs soon.
			this.counters.leaseDeferrals++;
			this.#deferredUntil = started + this.options.leaseSettleMs * 2;
			return;
		}
		try {
			const after = this.deltaAfter();
			const delta = await source.readDelta(after, this.options.deltaLimit);
			this.counters.d1Reads++;
			this.applyDelta(delta, after, started, wasReady);
		} catch (err) {
			this.counters.failures++;
			this.#failedAt = this.#now();
			throw err;
		}
		this.#refreshAt = this.#drawRefreshAt();
		const sharing = this.#share(source);
		this.#sharing = sharing;
		waitUntil(sharing);
	}

	/** Writes the view as the location's shared view (never throws: a failing Cache API leaves others to D1). */
	#share(source: ClockSource): Promise<void> {
		const increment = this.view.increment(this.options.sharedBumps);
		this.#sharedTo = Math.max(this.#sharedTo, increment.to);
		return source.writeShared(increment).catch(() => {});
	}

	/** Whether the view, at `now`, is young enough for a refresh to end without D1, and has what it must reach. */
	#youngAt(now: number): boolean {
		return now - this.view.readAt < this.options.refreshAfterMs && this.view.counter >= this.#wanted;
	}

	/**
	 * A refresh whose shared view is too old (a writer leaves it to its
	 * announcements while they reach back to it): the location's last
	 * announcement, when its bumps join the view, brings the view up to the
	 * announcer's own read of D1. Only the view moves: what the isolate
	 * knows of announcements is its looks' business.
	 */
	async #takeAnnounced(source: ClockSource, started: number): Promise<boolean> {
		if (!source.readHead || !this.view.ready) return false;
		const head = parseHead(await source.readHead().catch(() => undefined));
		if (!head || head.counter <= this.view.counter) return false;
		return this.#applyHead(head, started) && this.#youngAt(started);
	}

	/** Where the next read of D1 starts: after the view's counter (undefined before the first read). */
	deltaAfter(): number | undefined {
		return this.view.ready ? this.view.counter : undefined;
	}

	/**
	 * Takes a read of D1 that began at `started` from `after` (`deltaAfter`
	 * then): a refresh's, or the end of a write's own batch.
	 */
	applyDelta(delta: ClockDelta, after: number | undefined, started: number, wasReady = this.view.ready): void {
		const { rows, counter, floor } = delta;
		const limit = this.options.deltaLimit;
		this.#ownReadAt = Math.max(this.#ownReadAt, started);
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
		this.#settleWanted();
	}

	/** The clock's current time (the engine's `now`). */
	now(): number {
		return this.#now();
	}

	/**
	 * The lease on a last-writer-wins store: no contender while another's
	 * claim is young; otherwise claim, let concurrent claims land, and read
	 * back — the last writer wins, the others defer to it.
	 */
	async #winLease(source: ClockSource, current: ClockLease | undefined, now: number): Promise<boolean> {
		const { leaseMs, skewToleranceMs, leaseSettleMs } = this.options;
		if (current && current.at - now <= skewToleranceMs && now - current.at < leaseMs) return false;
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

/** The promise's value, or undefined after `ms` of real time (a hanging Cache API must not hold requests). */
function parseHead(value: unknown): ClockHead | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const { counter, at, increment } = value as Record<string, unknown>;
	if (!(typeof counter === "number" && Number.isSafeInteger(counter) && typeof at === "number" && Number.isFinite(at)))
		return undefined;
	// Bumps that do not parse are left out: the look then falls back to a refresh.
	const carried = increment === undefined ? undefined : parseIncrement(increment);
	return carried ? { counter, at, increment: carried } : { counter, at };
}

function parseLease(value: unknown): ClockLease | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const { id, at } = value as Record<string, unknown>;
	return typeof id === "string" && typeof at === "number" && Number.isFinite(at) ? { id, at } : undefined;
}
