import { sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { Context, Env as HonoEnv, TypedResponse } from "hono";
import { HTTPException } from "hono/http-exception";
import { clockSource } from "./clock-source";
import { ColoCache } from "./colo-cache";
import { type Entry, etagOf, inStaleIfError, inStaleWhileRevalidate, isFresh, ttlLeft } from "./entry";
import { cacheStatus, edgePurgeTags, edgeTags, etagMatches, serverTiming, type TierOutcome } from "./headers";
import { HotKeys } from "./hot-keys";
import { type ClockOptions, type ClockSource, type ClockState, InvalidationClock } from "./invalidation-clock";
import { buildKey } from "./key";
import { KvCache } from "./kv-cache";
import { MemoryLru } from "./memory-lru";
import { type CachePolicy, DEFAULT_POLICY, definePolicy, type PolicyOptions, type TierName } from "./policy";
import { counterValue, SEQ_SQL } from "./seq-sql";
import { FlightTimeoutError, SingleFlight } from "./single-flight";
import { CacheStats } from "./stats";
import { type Background, toWriteScope, type WriteScope } from "./write-scope";

// biome-ignore lint/suspicious/noExplicitAny: any drizzle D1 database, whatever its schema
export type AnyD1Db = DrizzleD1Database<any>;

/**
 * The origin as a loader sees it: drizzle over D1, and `batch` to run the
 * loader's queries as one D1 batch — one transaction, in which the engine
 * also reads `cache_seq`, so the entry's `readSeq` and its data come from the
 * same snapshot.
 */
export interface Origin<Db extends AnyD1Db> {
	db: Db;
	batch<U extends BatchItem<"sqlite">, T extends Readonly<[U, ...U[]]>>(queries: T): Promise<BatchResponse<T>>;
}

/** A loader's answer: status, JSON body, and the tags of every row it read. */
export type Loaded = { status: 200 | 404; body: unknown; tags: string[] };

export type Loader<Db extends AnyD1Db, L extends Loaded> = (origin: Origin<Db>) => Promise<L>;

/** The typed response of each answer a loader can give (for routes and `hc` clients). */
export type ReadResponse<L extends Loaded> = L extends { status: infer S extends 200 | 404; body: infer B }
	? TypedResponse<B, S, "json">
	: never;

/** Thrown when the origin fails and no stale answer may be served: 503, `no-store`. */
export class OriginUnavailableError extends HTTPException {
	constructor(cause: unknown) {
		super(503, { message: "the origin database is unavailable", cause });
	}
}

export interface TierCacheOptions<E extends HonoEnv, Db extends AnyD1Db> {
	/** The D1 database that holds the data and `cache_seq`. */
	database: (env: E["Bindings"]) => D1Database;
	/** The KV namespace for T3. */
	kv: (env: E["Bindings"]) => KVNamespace;
	/** A drizzle handle for loaders. */
	createDb: (d1: D1Database) => Db;
	/**
	 * Part of every key: change it and no entry written under the old value is
	 * read again (a deploy that changes a response shape).
	 */
	version: (c?: Context<E>) => string | Promise<string>;
	/** Cache API cache name (T2). Default "tiercache". */
	cacheName?: string;
	/** Opens the T2 cache. Default `caches.open`. */
	openCache?: (name: string) => Promise<Cache>;
	/** T1 bound in bytes. Default 16 MiB. */
	memoryBytes?: number;
	/**
	 * The invalidation clock: how old a view of D1's invalidations may get
	 * before it is refreshed (`refreshAfterMs`, 500) or waited for
	 * (`maxAgeMs`, 1000), and its bounds. See `ClockOptions`.
	 */
	clock?: Partial<ClockOptions> & { random?: () => number };
	/** Policy defaults for this app, over the engine's. */
	defaults?: Partial<Omit<CachePolicy, "name">>;
	/** How long a request waits for the origin before treating it as failed (ms). Default 10,000. */
	originTimeoutMs?: number;
	/** Delay before each origin load (ms); for local benchmarks. */
	originDelayMs?: (env: E["Bindings"]) => number;
	/**
	 * Hands invalidated tags (with their coarser forms) to the edge purge, e.g.
	 * a queue. `purged`: the first attempt (`purgeEdgeNow`) already purged the
	 * edge, so only the delayed re-purge is left. Rejecting leaves the tags for
	 * the cron.
	 */
	purge?: (env: E["Bindings"], target: PurgeTarget, options: { purged: boolean }) => Promise<void>;
	/**
	 * The first edge purge attempt, made before the answer of a write, a
	 * webhook or an admin purge (not the cron's), bounded by
	 * `edgePurgeTimeoutMs`; resolves true when every configured edge was
	 * purged. Its failure never fails the write: the queue (`purge`) retries.
	 */
	purgeEdgeNow?: (env: E["Bindings"], target: PurgeTarget, ctx: ExecutionContext | undefined) => Promise<boolean>;
	/** How long a write waits for the first edge purge attempt (ms). Default 1,000. */
	edgePurgeTimeoutMs?: number;
	/**
	 * Windows that replace every route's own, per environment (e.g. short
	 * ones for end-to-end tests of an edge cache); undefined for none. Return
	 * the same object while nothing changes: the merged policies are reused.
	 */
	policyOverrides?: (env: E["Bindings"]) => PolicyOverrides | undefined;
	/** How many keys to track as hot, for re-warming. Default 512. */
	hotKeys?: number;
	/** Uniform random numbers in [0, 1), for early refresh. */
	random?: () => number;
	/** Wall clock (ms). */
	now?: () => number;
}

export type { Background, WaitUntil, WriteScope } from "./write-scope";

/**
 * Statements committed in the same D1 transaction as an invalidation, before
 * and after the bump (after ones can read the new `cache_seq`): e.g. a
 * webhook's delivery record, so a replay and the bump commit together.
 */
export interface InvalidationStatements {
	before?: D1PreparedStatement[];
	after?: D1PreparedStatement[];
}

/** The windows `policyOverrides` may replace. */
export type PolicyOverrides = Partial<
	Pick<CachePolicy, "ttl" | "staleWhileRevalidate" | "staleIfError" | "browserTtl" | "edgeTtl" | "notFoundTtl">
>;

/** What an edge purge is asked to remove. */
export type PurgeTarget = { tags: string[] } | { everything: true };

/** Who invalidated: an API write, a direct call (webhook, admin page), or the cron. */
export type InvalidationSource = "write" | "invalidate" | "webhook" | "admin" | "cron";

export interface SweepResult {
	/** Unhandled tags found. */
	tags: number;
	/** Whether there were too many tags and the whole edge was purged. */
	everything: boolean;
}

interface RequestScope<E extends HonoEnv> {
	c: Context<E>;
	env: E["Bindings"];
	waitUntil: (promise: Promise<unknown>) => void;
	view?: (body: unknown) => unknown;
	/** The request's state of the invalidation clock (set once it was consulted). */
	clock?: ClockState;
}

export interface ReadOptions {
	/**
	 * Derives the answer from the stored body at serve time (e.g. the first
	 * `limit` items of a stored ranking), so one entry serves many views.
	 * The ETag is computed over the derived body.
	 */
	view?: (body: unknown) => unknown;
}

/** Requests the engine makes to re-warm hot keys use this host; they do not count as heat. */
export const REWARM_HOST = "rewarm.tiercache.invalid";

/**
 * A tiered read-through cache for Hono + D1 routes: T1 memory → T2 Cache API
 * → T3 KV → the route's loader, with entries validated by invalidation
 * sequence numbers and CDN headers for the edge in front.
 */
export class TierCache<E extends HonoEnv, Db extends AnyD1Db> {
	readonly stats = new CacheStats();
	readonly memory: MemoryLru;
	/** This isolate's view of D1's invalidations. */
	readonly clock: InvalidationClock;
	readonly #options: TierCacheOptions<E, Db>;
	readonly #defaults: Omit<CachePolicy, "name">;
	readonly #colo: ColoCache;
	readonly #flights = new SingleFlight<{ entry: Entry; storable: boolean }>();
	readonly hotKeys: HotKeys;
	/** When this isolate first found an entry (key, readSeq) invalidated, for soft invalidation. */
	#softSince = new Map<string, number>();
	#lastOriginError = Number.NEGATIVE_INFINITY;
	#surrogates = new WeakMap<Entry, { cacheTag: string; surrogateKey: string }>();
	/** The view generation at which an entry was last found valid: unchanged view, unchanged answer. */
	#validAt = new WeakMap<Entry, number>();
	readonly #kvLastWrite = new Map<string, number>();
	readonly #random: () => number;
	readonly #now: () => number;
	#lastWarning = new Map<string, number>();

	constructor(options: TierCacheOptions<E, Db>) {
		this.#options = options;
		this.#defaults = { ...DEFAULT_POLICY, ...options.defaults };
		this.memory = new MemoryLru(options.memoryBytes ?? 16 * 1024 * 1024);
		this.#colo = new ColoCache(options.cacheName ?? "tiercache", options.openCache);
		this.hotKeys = new HotKeys(options.hotKeys ?? 512);
		this.#random = options.random ?? Math.random;
		this.#now = options.now ?? Date.now;
		const { random: clockRandom, ...clockOptions } = options.clock ?? {};
		this.clock = new InvalidationClock(clockOptions, this.#now, clockRandom);
	}

	/** A policy over this cache's defaults. */
	policy(options: PolicyOptions): CachePolicy {
		return definePolicy(options, this.#defaults);
	}

	/**
	 * Answers a read route from the first tier holding a valid entry, else from
	 * the loader (one load per key per isolate at a time), and stores the
	 * answer in the tiers above in `waitUntil`.
	 */
	async read<L extends Loaded>(
		c: Context<E>,
		policy: CachePolicy,
		load: Loader<Db, L>,
		options: ReadOptions = {},
	): Promise<ReadResponse<L>> {
		return (await this.#serve(c, policy, load, options)) as unknown as ReadResponse<L>;
	}

	async #serve<L extends Loaded>(
		c: Context<E>,
		routePolicy: CachePolicy,
		load: Loader<Db, L>,
		options: ReadOptions,
	): Promise<Response> {
		const policy = this.#withOverrides(routePolicy, c.env);
		const scope: RequestScope<E> = {
			c,
			env: c.env,
			waitUntil: (promise) => {
				const settled = promise.catch((err) => this.#warn("background", err));
				try {
					c.executionCtx.waitUntil(settled);
				} catch {
					// No execution context (e.g. `app.request` in a script): the work still runs.
				}
			},
			view: options.view,
		};
		this.stats.requests++;
		if (bypasses(c)) return this.#bypass(scope, policy, load);
		const key = buildKey({
			version: await this.#options.version(c),
			route: policy.name,
			...keyInputs(c),
			keyQuery: policy.keyQuery,
		});
		const outcomes: TierOutcome[] = [];
		const timings: [string, number][] = [];
		const above: TierName[] = [];
		let staleCandidate: { entry: Entry; tier: TierName } | undefined;

		// Past memory, the remote tiers are probed together: a miss costs one
		// round trip instead of two, a colo hit costs one spare KV read.
		// No entry is validated against a view of the clock older than a second.
		const clock = await this.clock.ensureFresh(this.#clockSource(scope.env), scope.waitUntil);
		scope.clock = clock;
		if (clock.waitedMs > 0) timings.push(["clock", clock.waitedMs]);
		const remote = new Map<TierName, Promise<Entry | undefined | null>>();
		for (const tier of policy.tiers) {
			const started = performance.now();
			if (tier !== "memory" && remote.size === 0) {
				for (const t of policy.tiers) if (t !== "memory") remote.set(t, this.#get(scope, t, key));
			}
			const entry = await (remote.get(tier) ?? this.#get(scope, tier, key));
			const valid = entry && (await this.#isValid(scope, entry));
			timings.push([tier, performance.now() - started]);
			const counters = this.stats.tiers[tier];
			const now = this.#now();
			if (entry && !clock.available && valid !== false) {
				// The clock cannot be read: an entry not known to be invalidated is
				// served inside its stale-if-error window, marked; never beyond it.
				if (inStaleIfError(entry, now)) {
					counters.hits++;
					if (!isFresh(entry, now)) counters.stale++;
					this.stats.served.clockUnavailable++;
					outcomes.push({ tier, kind: "hit", ttl: ttlLeft(entry, now), detail: "clock-unavailable" });
					return this.#respond(scope, policy, entry, outcomes, timings, key);
				}
				counters.misses++;
				outcomes.push({ tier, kind: "stale", stored: false });
			} else if (entry === null || (entry && valid === undefined)) {
				// The tier (or the seq look-up) failed: a miss, never a failed read.
				counters.errors++;
				counters.misses++;
				outcomes.push({ tier, kind: "error", stored: false });
			} else if (!entry) {
				counters.misses++;
				outcomes.push({ tier, kind: "miss", stored: false });
			} else if (!valid) {
				counters.invalidated++;
				const softFor = policy.onInvalidate === "soft" ? this.#softStale(key, entry, policy, now) : -1;
				if (softFor >= 0) {
					// Soft invalidation: stale, not gone. Served while one refresh runs.
					counters.stale++;
					this.stats.served.softInvalidated++;
					outcomes.push({ tier, kind: "hit", ttl: -1 - softFor, detail: "invalidated" });
					this.#refreshInBackground(scope, policy, key, load);
					return this.#respond(scope, policy, entry, outcomes, timings, key);
				}
				if (tier === "memory") this.memory.delete(key);
				outcomes.push({ tier, kind: "invalid", stored: false });
			} else if (isFresh(entry, now)) {
				counters.hits++;
				outcomes.push({ tier, kind: "hit", ttl: ttlLeft(entry, now) });
				this.#backfill(scope, above, key, entry);
				if (this.#shouldRefreshEarly(entry, policy, now)) {
					this.stats.origin.earlyRefreshes++;
					this.#refreshInBackground(scope, policy, key, load);
				}
				return this.#respond(scope, policy, entry, outcomes, timings, key);
			} else if (inStaleWhileRevalidate(entry, now)) {
				counters.hits++;
				counters.stale++;
				this.stats.served.staleWhileRevalidate++;
				outcomes.push({ tier, kind: "hit", ttl: ttlLeft(entry, now), detail: "stale-while-revalidate" });
				this.#refreshInBackground(scope, policy, key, load);
				return this.#respond(scope, policy, entry, outcomes, timings, key);
			} else {
				counters.misses++;
				if (!staleCandidate && inStaleIfError(entry, now)) staleCandidate = { entry, tier };
				outcomes.push({ tier, kind: "stale", stored: false });
			}
			above.push(tier);
		}

		const started = performance.now();
		try {
			const entry = await this.#load(scope, policy, key, load, loadCause(outcomes, this.memory.wasEvicted(key)));
			timings.push(["origin", performance.now() - started]);
			for (const outcome of outcomes) if ("stored" in outcome) outcome.stored = entry.storable;
			return this.#respond(scope, policy, entry.entry, outcomes, timings, key);
		} catch (err) {
			timings.push(["origin", performance.now() - started]);
			const now = this.#now();
			if (staleCandidate && inStaleIfError(staleCandidate.entry, now)) {
				const { entry, tier } = staleCandidate;
				this.stats.tiers[tier].stale++;
				this.stats.served.staleIfError++;
				const index = outcomes.findIndex((o) => o.tier === tier);
				outcomes[index] = { tier, kind: "hit", ttl: ttlLeft(entry, now), detail: "stale-if-error" };
				return this.#respond(scope, policy, entry, outcomes.slice(0, index + 1), timings, key);
			}
			this.stats.served.unavailable++;
			throw err instanceof HTTPException ? err : new OriginUnavailableError(err);
		}
	}

	/**
	 * Invalidates tags: bumps their sequence numbers in D1 (one batch, committed
	 * before this returns), then propagates them (see `afterWrite`). Returns
	 * the new seq.
	 */
	async invalidateTags(
		env: E["Bindings"],
		tags: readonly string[],
		background?: Background,
		sameTransaction: InvalidationStatements = {},
		source: InvalidationSource = "invalidate",
	): Promise<number> {
		const unique = [...new Set(tags)];
		if (unique.length === 0) throw new Error("invalidateTags needs at least one tag");
		const d1 = this.#options.database(env);
		const before = sameTransaction.before ?? [];
		const results = await d1.batch<{ value: number }>([
			...before,
			d1.prepare(SEQ_SQL.bump),
			d1.prepare(SEQ_SQL.setTags).bind(JSON.stringify(unique)),
			d1.prepare(SEQ_SQL.read),
			...(sameTransaction.after ?? []),
		]);
		const seq = counterValue(results[before.length + 2]?.results[0]);
		await this.#propagate(env, new Map(unique.map((tag) => [tag, seq])), 0, source, background);
		return seq;
	}

	/**
	 * Invalidates everything: bumps the counter and raises the floor to it, so
	 * no entry read before is valid anywhere; the edge is purged entirely.
	 */
	async invalidateEverything(
		env: E["Bindings"],
		background?: Background,
		sameTransaction: InvalidationStatements = {},
		source: InvalidationSource = "invalidate",
	): Promise<number> {
		const d1 = this.#options.database(env);
		const before = sameTransaction.before ?? [];
		const results = await d1.batch<{ value: number }>([
			...before,
			d1.prepare(SEQ_SQL.bump),
			d1.prepare(SEQ_SQL.setFloor),
			d1.prepare(SEQ_SQL.read),
			...(sameTransaction.after ?? []),
		]);
		const seq = counterValue(results[before.length + 2]?.results[0]);
		await this.#propagate(env, new Map(), seq, source, background);
		return seq;
	}

	/**
	 * After a write whose D1 triggers bumped these tags: reads their seqs and
	 * makes this isolate's next read fresh at once (other isolates see the
	 * bumps through the clock), then hands the bumps nobody handled yet to the
	 * edge purge (in `waitUntil` when given). Tags whose purge fails stay
	 * unhandled in D1 for the cron to sweep up.
	 */
	async afterWrite(env: E["Bindings"], tags: readonly string[], background?: Background): Promise<void> {
		const unique = [...new Set(tags)];
		if (unique.length === 0) return;
		const d1 = this.#options.database(env);
		const rows = await d1
			.prepare(SEQ_SQL.readTags)
			.bind(JSON.stringify(unique))
			.all<{ tag: string; seq: number; handled_seq: number }>();
		this.clock.note(new Map(rows.results.map((r) => [r.tag, Number(r.seq)])));
		// Only bumps nobody has handled yet (this write's, normally) are purged and re-warmed.
		const unhandled = rows.results.filter((r) => Number(r.seq) > Number(r.handled_seq));
		if (unhandled.length === 0) return;
		await this.#propagate(env, new Map(unhandled.map((r) => [r.tag, Number(r.seq)])), 0, "write", background);
	}

	/**
	 * The cron's work: hands every bump nobody handled (writes made behind the
	 * API's back, or whose purge failed) to the edge purge. Above `sweepLimit`
	 * unhandled tags it purges the whole edge. The tiers T1–T3 do not wait for
	 * it: they see every bump through the clock.
	 */
	async sweep(env: E["Bindings"], sweepLimit = 500): Promise<SweepResult> {
		const d1 = this.#options.database(env);
		const [unhandled, counterRow] = await d1.batch<{ tag: string; seq: number; value: number }>([
			d1.prepare(SEQ_SQL.unhandled).bind(sweepLimit + 1),
			d1.prepare(SEQ_SQL.read),
		]);
		const counter = counterValue(counterRow?.results[0]);
		const rows = unhandled?.results ?? [];
		if (rows.length === 0) return { tags: 0, everything: false };
		if (rows.length > sweepLimit) {
			this.#record([], counter, true, "cron");
			if (await this.#purge(env, { everything: true })) {
				await d1.prepare(SEQ_SQL.markAllHandled).bind(counter).run();
			}
			return { tags: rows.length, everything: true };
		}
		await this.#propagate(env, new Map(rows.map((r) => [r.tag, Number(r.seq)])), 0, "cron");
		return { tags: rows.length, everything: false };
	}

	/**
	 * What every invalidation does after its bump committed: this isolate's
	 * view learns it; the first edge purge attempt runs before the answer
	 * (not for the cron); the queue gets the purge (or only the re-purge, when
	 * the first attempt purged), and the bumps are marked handled.
	 */
	async #propagate(
		env: E["Bindings"],
		seqs: Map<string, number>,
		floor: number,
		source: InvalidationSource,
		background?: Background,
	): Promise<void> {
		const scope = toWriteScope(background);
		this.clock.note(seqs, floor);
		this.#record([...seqs.keys()], Math.max(floor, ...seqs.values()), floor > 0, source);
		const target: PurgeTarget = floor > 0 ? { everything: true } : { tags: edgePurgeTags([...seqs.keys()]) };
		const purgedNow = source !== "cron" && (await this.#purgeEdgeNow(env, target, scope));
		const work = (async () => {
			const handed = await this.#purge(env, target, purgedNow);
			if (handed && seqs.size > 0) {
				const pairs = JSON.stringify([...seqs].map(([tag, seq]) => [tag, seq]));
				await this.#options.database(env).prepare(SEQ_SQL.markHandled).bind(pairs).run();
			}
		})();
		if (scope.waitUntil) scope.waitUntil(work);
		else await work;
	}

	/** The first edge purge attempt, bounded; true when the edge was purged. Never throws. */
	async #purgeEdgeNow(env: E["Bindings"], target: PurgeTarget, scope: WriteScope): Promise<boolean> {
		const purgeEdgeNow = this.#options.purgeEdgeNow;
		if (!purgeEdgeNow || ("tags" in target && target.tags.length === 0)) return false;
		const started = performance.now();
		const timeoutMs = this.#options.edgePurgeTimeoutMs ?? 1000;
		let timer: ReturnType<typeof setTimeout> | null = null;
		const attempt = purgeEdgeNow(env, target, scope.executionCtx).catch((err) => {
			this.stats.purges.edgeErrors++;
			this.#warn("edge-purge", err);
			return false;
		});
		// A slow edge never holds the answer past the bound; the attempt may still finish after it.
		scope.waitUntil?.(attempt);
		const purged = await Promise.race([
			attempt,
			new Promise<false>((resolve) => {
				timer = setTimeout(() => resolve(false), timeoutMs);
			}),
		]);
		if (timer !== null) clearTimeout(timer);
		if (purged) this.stats.purges.edgePurgedNow++;
		scope.timing?.("edge-purge", performance.now() - started, purged ? "purged" : "not-purged");
		return purged;
	}

	#record(tags: string[], seq: number, everything: boolean, source: InvalidationSource): void {
		this.stats.purges.invalidations++;
		this.stats.purges.tags += tags.length;
		this.stats.recordInvalidation(source, tags, seq, everything);
	}

	/** Hands tags to the edge purge; false (counted, logged) on failure: the cron hands them again. */
	async #purge(env: E["Bindings"], target: PurgeTarget, purged = false): Promise<boolean> {
		if (!this.#options.purge) return true;
		if ("tags" in target && target.tags.length === 0) return true;
		try {
			await this.#options.purge(env, target, { purged });
			return true;
		} catch (err) {
			this.stats.purges.enqueueErrors++;
			this.#warn("purge", err);
			return false;
		}
	}

	/** Counters and sizes of this isolate. */
	snapshot() {
		const view = this.clock.view;
		return {
			...this.stats,
			memory: {
				bytes: this.memory.bytes,
				entries: this.memory.size,
				maxBytes: this.memory.maxBytes,
				evictions: this.memory.evictions,
			},
			inFlight: this.#flights.size,
			clock: {
				...this.clock.counters,
				counter: view.counter,
				floor: view.floor,
				coverFrom: view.coverFrom,
				bumps: view.size,
				lookedUpTags: view.baselineSize,
				viewAgeMs: view.ready ? Math.max(0, Math.round(this.clock.age())) : -1,
			},
		};
	}

	/**
	 * Seconds since this isolate first found the entry invalidated, while that
	 * is inside the policy's stale-while-revalidate window; -1 after it.
	 */
	#softStale(key: string, entry: Entry, policy: CachePolicy, now: number): number {
		const id = `${key}#${entry.readSeq}#${entry.storedAt}`;
		let since = this.#softSince.get(id);
		if (since === undefined) {
			if (this.#softSince.size >= 10_000) this.#softSince.clear();
			since = now;
			this.#softSince.set(id, since);
		}
		const elapsed = Math.floor((now - since) / 1000);
		return now - since < policy.staleWhileRevalidate * 1000 ? elapsed : -1;
	}

	/**
	 * Loads a key ahead of demand and stores it in every tier of the policy, as
	 * a request for `query` (and `params`) would: a cron precomputing an
	 * expensive answer. Waits for the stores.
	 */
	async prefill<L extends Loaded>(
		env: E["Bindings"],
		policy: CachePolicy,
		inputs: { params?: Record<string, unknown>; query?: Record<string, unknown> },
		load: Loader<Db, L>,
	): Promise<Entry> {
		const key = buildKey({
			version: await this.#options.version(),
			route: policy.name,
			params: inputs.params ?? {},
			query: inputs.query ?? {},
			keyQuery: policy.keyQuery,
		});
		const pending: Promise<unknown>[] = [];
		// No request: nothing is rendered, so the scope has no context.
		const scope = { env, waitUntil: (p: Promise<unknown>) => pending.push(p) } as unknown as RequestScope<E>;
		const { entry, batched } = await this.#fill(scope, policy, load);
		if (batched) this.#store(scope, policy.tiers, key, entry);
		await Promise.all(pending);
		return entry;
	}

	/**
	 * Re-warms the hottest keys that an invalidation touched, by requesting
	 * them again through `fetchPath` (the app), so their next visitor gets a
	 * hit. At most `max` keys and `budgetMs`, one at a time; skipped while the
	 * origin has failed in the last 30 s.
	 */
	async rewarm(
		target: PurgeTarget,
		fetchPath: (url: string) => Promise<Response>,
		{ max = 20, budgetMs = 5_000 }: { max?: number; budgetMs?: number } = {},
	): Promise<{ rewarmed: number; skipped: boolean }> {
		if (this.#now() - this.#lastOriginError < 30_000) {
			this.stats.rewarm.skipped++;
			return { rewarmed: 0, skipped: true };
		}
		const tags = "tags" in target ? new Set(target.tags) : undefined;
		const started = Date.now();
		let rewarmed = 0;
		for (const hot of this.hotKeys.hottest(tags, max)) {
			if (Date.now() - started > budgetMs) break;
			const response = await fetchPath(`https://${REWARM_HOST}${hot.path}`);
			await response.body?.cancel();
			if (response.status >= 500) break;
			rewarmed++;
		}
		this.stats.rewarm.keys += rewarmed;
		return { rewarmed, skipped: false };
	}

	// ---- tiers ---------------------------------------------------------

	/** An entry, undefined for a miss, null when the tier failed (a miss that is counted as an error). */
	async #get(scope: RequestScope<E>, tier: TierName, key: string): Promise<Entry | undefined | null> {
		try {
			switch (tier) {
				case "memory":
					return this.memory.get(key);
				case "colo":
					return await this.#colo.get(key);
				case "kv":
					return await new KvCache(this.#options.kv(scope.env), this.#kvLastWrite).get(key);
			}
		} catch (err) {
			this.#warn(tier, err);
			return null;
		}
	}

	/**
	 * Valid, invalid, or undefined when validity could not be established (a
	 * miss): checked against this isolate's view of the clock, with a per-tag
	 * look-up in D1 for entries older than the view (not while the clock is
	 * unavailable). An answer is reused while the view has not changed.
	 */
	async #isValid(scope: RequestScope<E>, entry: Entry): Promise<boolean | undefined> {
		const generation = this.clock.view.generation;
		if (this.#validAt.get(entry) === generation) return true;
		try {
			const valid = await this.clock.validity(
				this.#clockSource(scope.env),
				entry.readSeq,
				entry.tags,
				scope.clock?.available !== false,
			);
			if (valid && this.clock.view.generation === generation) this.#validAt.set(entry, generation);
			return valid;
		} catch (err) {
			this.#warn("clock", err);
			return undefined;
		}
	}

	#clockSource(env: E["Bindings"]): ClockSource {
		return clockSource(this.#options.database(env), () => this.#colo.open());
	}

	#store(scope: RequestScope<E>, tiers: readonly TierName[], key: string, entry: Entry): void {
		for (const tier of tiers) {
			const counters = this.stats.tiers[tier];
			if (tier === "memory") {
				if (this.memory.set(key, entry)) counters.writes++;
				else counters.skippedWrites++;
				continue;
			}
			scope.waitUntil(
				(async () => {
					try {
						if (tier === "colo") {
							await this.#colo.set(key, entry);
							counters.writes++;
						} else {
							const kv = new KvCache(this.#options.kv(scope.env), this.#kvLastWrite);
							const outcome = await kv.set(key, entry, Date.now());
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

	#backfill(scope: RequestScope<E>, tiers: readonly TierName[], key: string, entry: Entry): void {
		if (tiers.length > 0) this.#store(scope, tiers, key, entry);
	}

	// ---- origin --------------------------------------------------------

	async #load<L extends Loaded>(
		scope: RequestScope<E>,
		policy: CachePolicy,
		key: string,
		load: Loader<Db, L>,
		cause: LoadCause,
	): Promise<{ entry: Entry; storable: boolean }> {
		const fill = async () => {
			this.stats.origin.byCause[cause]++;
			const { entry, batched } = await this.#fill(scope, policy, load);
			const storable = batched && (entry.status === 200 || policy.notFoundTtl > 0);
			if (storable) this.#store(scope, policy.tiers, key, entry);
			return { entry, storable };
		};
		// A load that began before an invalidation this isolate knows of may hold
		// overtaken data: a request that joined it checks the result against the
		// view and, if a tag of it was bumped since, loads again.
		for (let attempt = 0; ; attempt++) {
			let joined = false;
			let result: { entry: Entry; storable: boolean };
			try {
				result = await this.#flights.run(key, fill, () => {
					joined = true;
					this.stats.origin.coalesced++;
				});
			} catch (err) {
				// The load this request waited for took too long: load by itself.
				if (err instanceof FlightTimeoutError) return fill();
				throw err;
			}
			if (!joined || this.clock.view.validity(result.entry.readSeq, result.entry.tags) !== false) return result;
			this.stats.origin.overtakenFlights++;
			if (attempt >= 2) return fill();
		}
	}

	#refreshInBackground<L extends Loaded>(
		scope: RequestScope<E>,
		policy: CachePolicy,
		key: string,
		load: Loader<Db, L>,
	): void {
		if (this.#flights.has(key)) return;
		this.stats.origin.backgroundRefreshes++;
		scope.waitUntil(this.#load(scope, policy, key, load, "refresh"));
	}

	/** Runs the loader with `cache_seq` read in its first batch. */
	async #fill<L extends Loaded>(
		scope: RequestScope<E>,
		policy: CachePolicy,
		load: Loader<Db, L>,
	): Promise<{ entry: Entry; batched: boolean }> {
		const db = this.#options.createDb(this.#options.database(scope.env));
		const delay = this.#options.originDelayMs?.(scope.env) ?? 0;
		let readSeq: number | undefined;
		const origin: Origin<Db> = {
			db,
			batch: async (queries) => {
				if (delay > 0) await scheduler.wait(delay);
				const [seqRows, ...rest] = await db.batch([db.all<{ value: number }>(sql.raw(SEQ_SQL.read)), ...queries]);
				const seq = Number((seqRows as { value: number }[])[0]?.value);
				if (!Number.isSafeInteger(seq)) throw new Error("cache_seq is missing: apply the engine's migrations");
				readSeq ??= seq;
				return rest as never;
			},
		};
		const storedAt = this.#now();
		const loadStarted = Date.now(); // real time: early refresh weighs the real cost of a load
		this.stats.origin.loads++;
		this.stats.origin.byRoute[policy.name] = (this.stats.origin.byRoute[policy.name] ?? 0) + 1;
		let loaded: L;
		const timeoutMs = this.#options.originTimeoutMs ?? 10_000;
		let timer: ReturnType<typeof setTimeout> | null = null;
		try {
			// A slow origin counts as a failing one: stale-if-error answers, or 503.
			loaded = await Promise.race([
				load(origin),
				new Promise<never>((_, reject) => {
					timer = setTimeout(() => reject(new Error(`origin load took longer than ${timeoutMs} ms`)), timeoutMs);
				}),
			]);
		} catch (err) {
			this.stats.origin.errors++;
			this.#lastOriginError = this.#now();
			throw err;
		} finally {
			if (timer !== null) clearTimeout(timer);
		}
		const body = JSON.stringify(loaded.body);
		const notFound = loaded.status === 404;
		if (readSeq === undefined) {
			this.stats.origin.unbatched++;
			this.#warn(
				`unbatched:${policy.name}`,
				new Error(`loader of '${policy.name}' read D1 outside origin.batch: not stored`),
			);
		}
		const entry: Entry = {
			status: loaded.status,
			body,
			etag: await etagOf(body),
			tags: [...new Set(loaded.tags)],
			readSeq: readSeq ?? 0,
			storedAt,
			ttl: notFound ? Math.max(1, policy.notFoundTtl) : policy.ttl,
			staleWhileRevalidate: notFound ? 0 : policy.staleWhileRevalidate,
			staleIfError: notFound ? 0 : policy.staleIfError,
			loadMs: Math.max(0, Date.now() - loadStarted),
		};
		return { entry, batched: readSeq !== undefined };
	}

	/** XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh before expiry, more likely the closer and slower. */
	#shouldRefreshEarly(entry: Entry, policy: CachePolicy, now: number): boolean {
		if (policy.earlyRefreshBeta <= 0 || entry.status !== 200) return false;
		const expiry = entry.storedAt + entry.ttl * 1000;
		const delta = Math.max(entry.loadMs, 1);
		return now - delta * policy.earlyRefreshBeta * Math.log(1 - this.#random()) >= expiry;
	}

	// ---- responses -----------------------------------------------------

	async #bypass<L extends Loaded>(scope: RequestScope<E>, policy: CachePolicy, load: Loader<Db, L>): Promise<Response> {
		this.stats.bypassed++;
		const started = performance.now();
		let entry: Entry;
		try {
			entry = (await this.#fill(scope, policy, load)).entry;
		} catch (err) {
			this.stats.served.unavailable++;
			throw err instanceof HTTPException ? err : new OriginUnavailableError(err);
		}
		const body = scope.view && entry.status === 200 ? JSON.stringify(scope.view(JSON.parse(entry.body))) : entry.body;
		return scope.c.body(body, entry.status, {
			"Content-Type": "application/json",
			"Cache-Control": "private, no-store",
			ETag: entry.etag,
			"Cache-Status": cacheStatus(policy.tiers.map((tier) => ({ tier, kind: "bypass" as const }))),
			"Server-Timing": serverTiming([["origin", performance.now() - started]]),
		});
	}

	async #respond(
		scope: RequestScope<E>,
		policy: CachePolicy,
		entry: Entry,
		outcomes: TierOutcome[],
		timings: [string, number][],
		key: string,
	): Promise<Response> {
		const now = this.#now();
		const raw = scope.c.req.url;
		if (!raw.includes(REWARM_HOST)) {
			const query = raw.indexOf("?");
			this.hotKeys.record(key, scope.c.req.path + (query >= 0 ? raw.slice(query) : ""), entry.tags);
		}
		let body = entry.body;
		let etag = entry.etag;
		if (scope.view && entry.status === 200) {
			body = JSON.stringify(scope.view(JSON.parse(entry.body)));
			etag = await etagOf(body);
		}
		const notFound = entry.status === 404;
		const cdnMaxAge = Math.max(0, ttlLeft(entry, now));
		const windows = notFound
			? ""
			: `, stale-while-revalidate=${entry.staleWhileRevalidate}, stale-if-error=${entry.staleIfError}`;
		const surrogate = this.#surrogateHeaders(entry);
		const headers: Record<string, string> = {
			"Content-Type": "application/json",
			ETag: etag,
			"Cache-Control": `public, max-age=${notFound ? 0 : policy.browserTtl}`,
			"CDN-Cache-Control": `max-age=${cdnMaxAge}${windows}`,
			"Cloudflare-CDN-Cache-Control": `max-age=${notFound ? cdnMaxAge : Math.max(cdnMaxAge, policy.edgeTtl)}${windows}`,
			"Cache-Tag": surrogate.cacheTag,
			"Surrogate-Key": surrogate.surrogateKey,
			"Cache-Status": cacheStatus(outcomes),
			"Server-Timing": serverTiming(timings),
		};
		if (!notFound && etagMatches(scope.c.req.header("If-None-Match"), etag)) {
			this.stats.notModified++;
			const { "Content-Type": _, ...notModified } = headers;
			return scope.c.body(null, 304, notModified);
		}
		// Through the context, so headers set earlier (request id, …) are kept.
		return scope.c.body(body, entry.status, headers);
	}

	/** Cache-Tag and Surrogate-Key of an entry, computed once per entry (hits reuse them). */
	#surrogateHeaders(entry: Entry): { cacheTag: string; surrogateKey: string } {
		let headers = this.#surrogates.get(entry);
		if (!headers) {
			const { tags } = edgeTags(entry.tags);
			headers = { cacheTag: tags.join(","), surrogateKey: tags.join(" ") };
			this.#surrogates.set(entry, headers);
		}
		return headers;
	}

	#overridden = new WeakMap<CachePolicy, { overrides: PolicyOverrides; policy: CachePolicy }>();

	#withOverrides(policy: CachePolicy, env: E["Bindings"]): CachePolicy {
		const overrides = this.#options.policyOverrides?.(env);
		if (!overrides) return policy;
		const known = this.#overridden.get(policy);
		if (known?.overrides === overrides) return known.policy;
		const merged = { ...policy, ...overrides };
		this.#overridden.set(policy, { overrides, policy: merged });
		return merged;
	}

	/** Logs a degraded dependency at most once a minute per kind; the read goes on. */
	#warn(kind: string, err: unknown): void {
		const now = this.#now();
		if (now - (this.#lastWarning.get(kind) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
		this.#lastWarning.set(kind, now);
		const message = err instanceof Error ? err.message : String(err);
		console.warn(JSON.stringify({ level: "warn", component: "tiercache", kind, message }));
	}
}

type LoadCause = keyof CacheStats["origin"]["byCause"];

/** Why the tiers could not answer: an invalidated entry, an expired one, one evicted from memory, or none at all. */
function loadCause(outcomes: readonly TierOutcome[], evicted: boolean): LoadCause {
	if (outcomes.some((o) => o.kind === "invalid")) return "invalidated";
	if (outcomes.some((o) => o.kind === "stale")) return "expired";
	return evicted ? "evicted" : "cold";
}

/**
 * What the key is built from: the route's validated path parameters and
 * query (normalised by its schema). A route without validators falls back to
 * the router's path parameters and every raw query parameter, so nothing a
 * loader could read is left out of the key.
 */
function keyInputs(c: Context): { params: Record<string, unknown>; query: Record<string, unknown> } {
	const params = (c.req.valid("param" as never) as Record<string, unknown> | undefined) ?? c.req.param();
	const query =
		(c.req.valid("query" as never) as Record<string, unknown> | undefined) ??
		Object.fromEntries(Object.entries(c.req.queries()).map(([name, values]) => [name, values.join("\u0000")]));
	return { params, query };
}

/**
 * Requests that no tier may answer or store: other methods than GET and HEAD,
 * authenticated ones (Authorization, Cookie), and those whose handler already
 * made the answer uncacheable (Set-Cookie, or Cache-Control private/no-store).
 */
function bypasses(c: Context): boolean {
	const method = c.req.method;
	if (method !== "GET" && method !== "HEAD") return true;
	if (c.req.header("Authorization") !== undefined || c.req.header("Cookie") !== undefined) return true;
	const preset = c.res.headers;
	return preset.has("Set-Cookie") || /\b(private|no-store)\b/i.test(preset.get("Cache-Control") ?? "");
}

/**
 * Creates the tiered cache for an app: one per isolate (module scope).
 *
 * @param options - bindings, drizzle factory, key version, and defaults.
 * @example
 * ```ts
 * const cache = createTierCache<AppEnv, Db>({
 *   database: (env) => env.DB,
 *   kv: (env) => env.CACHE_KV,
 *   createDb,
 *   version: () => "v1",
 * });
 * app.get("/v1/things/:id", (c) => cache.read(c, cache.policy({ name: "thing" }), loadThing));
 * ```
 * @see ../../docs/architecture.md
 */
export function createTierCache<E extends HonoEnv, Db extends AnyD1Db>(
	options: TierCacheOptions<E, Db>,
): TierCache<E, Db> {
	return new TierCache(options);
}
