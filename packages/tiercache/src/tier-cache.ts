// Over 300 lines, on purpose: the read path — the memory hit, the walk over
// the tiers (#serve), single-flight loads, background refreshes — is one state
// machine over this isolate's state (flights, validity memo, key memo, soft
// invalidation), kept in one class so that each outcome of a tier (hit,
// stale, invalid, clock unavailable, miss) reads in one place. Invalidation,
// the origin fill, the tiers, the responses and the clock live in their own
// files.
import { sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { Context, Env as HonoEnv } from "hono";
import { HTTPException } from "hono/http-exception";
import { clockSource } from "./clock-source.js";
import { ColoCache } from "./colo-cache.js";
import { TimeoutError } from "./deadline.js";
import { type Entry, inStaleIfError, inStaleWhileRevalidate, isFresh, ttlLeft, validationTags } from "./entry.js";
import { type FetchHandler, type FrontOptions, FrontRoutes, pathAndQuery } from "./front-door.js";
import type { TierOutcome } from "./headers.js";
import { HotKeys } from "./hot-keys.js";
import { Invalidations, type WriteReads } from "./invalidation.js";
import { type ClockSource, type ClockState, InvalidationClock } from "./invalidation-clock.js";
import { buildKey } from "./key.js";
import { KvProbeGate } from "./kv-probe.js";
import { MemoryLru } from "./memory-lru.js";
import { entryOf, OriginFill, shouldRefreshEarly } from "./origin-fill.js";
import { type CachePolicy, DEFAULT_POLICY, definePolicy, type PolicyOptions, type TierName } from "./policy.js";
import { cacheableRequest, keyInputs, type LoadCause, loadCause } from "./request.js";
import { Responses } from "./responses.js";
import { counterValue, SEQ_SQL } from "./seq-sql.js";
import { FlightTimeoutError, SingleFlight } from "./single-flight.js";
import { Snapshot, snapshotAt } from "./snapshot.js";
import { CacheStats } from "./stats.js";
import { DEFAULT_TIER_TIMEOUT_MS, TierFailure, TierStore } from "./tiers.js";
import {
	type AnyD1Db,
	type InvalidationSource,
	type InvalidationStatements,
	type Loaded,
	type Loader,
	OriginUnavailableError,
	type PolicyOverrides,
	type PurgeTarget,
	REWARM_HOST,
	type ReadOptions,
	type ReadResponse,
	type RelatedAnswer,
	type SweepResult,
	type TierCacheOptions,
} from "./types.js";
import { type Background, toWriteScope, type WaitUntil, type WriteScope } from "./write-scope.js";

/** For this long after KV last answered a request, a memory miss reads the Cache API and KV together (ms). */
const KV_TOGETHER_MS = 60_000;

/** The tiers an answer stored without a load of its own may go to (`store`, `related`): never KV. */
const STORED_TIERS: readonly TierName[] = ["memory", "colo"];

interface RequestScope<E extends HonoEnv> {
	c: Context<E>;
	env: E["Bindings"];
	waitUntil: (promise: Promise<unknown>) => void;
	view?: (body: unknown) => unknown;
	/** Headers set before the answer (by middleware), which it carries too; absent when the request bypasses. */
	preset?: Headers;
	/** The request's state of the invalidation clock (set once it was consulted). */
	clock?: ClockState;
	/** The request's key, and the path and query that read it (for re-warming). */
	request?: RequestKey;
}

interface RequestKey {
	key: string;
	path: string;
	/** Made by the engine's own re-warm (does not count as heat). */
	rewarm: boolean;
}

/** How many request URLs the key memo holds before it starts again. */
const KEY_MEMO_SIZE = 10_000;

/**
 * A tiered read-through cache for Hono + D1 routes: T1 memory → T2 Cache API
 * → T3 KV → the route's loader, with entries validated against the
 * invalidation clock (D1) and CDN headers for the edge in front.
 */
export class TierCache<E extends HonoEnv, Db extends AnyD1Db> {
	readonly stats = new CacheStats();
	readonly memory: MemoryLru;
	/** This isolate's view of D1's invalidations. */
	readonly clock: InvalidationClock;
	readonly hotKeys: HotKeys;
	readonly #options: TierCacheOptions<E, Db>;
	readonly #defaults: Omit<CachePolicy, "name">;
	readonly #colo: ColoCache;
	readonly #tiers: TierStore;
	readonly #origin: OriginFill<E, Db>;
	readonly #invalidations: Invalidations<E>;
	readonly #responses: Responses;
	readonly #flights = new SingleFlight<{ entry: Entry; storable: boolean }>();
	/** What `afterWrite` needs, read in a write's `batch` (with `tags`). */
	readonly #writeReads = new WeakMap<Snapshot, WriteReads>();
	/** When this isolate first found an entry (key, readSeq) invalidated, for soft invalidation. */
	#softSince = new Map<string, number>();
	/** The view generation at which an entry was last found valid: unchanged view, unchanged answer. */
	#validAt = new WeakMap<Entry, number>();
	/**
	 * Keys by version, route and request URL. A key is built from the route's
	 * validated path parameters and query, which the URL alone determines, so
	 * a URL seen before needs no key building (sorting, encoding) again.
	 */
	readonly #keys = new Map<string, RequestKey>();
	/** The clock's source per D1 binding, made once instead of per request. */
	readonly #clockSources = new WeakMap<D1Database, ClockSource>();
	/** Loaded entries not written to KV yet under `kvAdmission: "second-request"`: the next hit on one writes it. */
	readonly #kvPending = new WeakSet<Entry>();
	/** Key versions that `version` answered with a promise, once it settled (the same promise, the same version). */
	readonly #versions = new WeakMap<Promise<string>, string>();
	readonly #random: () => number;
	readonly #now: () => number;
	/** Whether a read past the Cache API asks KV; undefined: always. */
	readonly #kvGate: KvProbeGate | undefined;
	/** When KV last answered a request of this isolate with a fresh, valid entry (see `KV_TOGETHER_MS`). */
	#kvAnsweredAt = Number.NEGATIVE_INFINITY;
	#lastWarning = new Map<string, number>();
	/** How long a read waits for a remote tier, or for the look-up that checks an entry it returned (ms). */
	readonly #tierTimeoutMs: number;
	/** The URLs the front door may answer (see `front`); undefined while it is not set up. */
	#front: FrontRoutes | undefined;
	/** Requests the front door left to the app because their early refresh is due: the app's hit makes it. */
	readonly #frontRefresh = new WeakSet<Request>();

	constructor(options: TierCacheOptions<E, Db>) {
		this.#options = options;
		this.#defaults = { ...DEFAULT_POLICY, ...options.defaults };
		this.#random = options.random ?? Math.random;
		this.#now = options.now ?? Date.now;
		this.#kvGate = options.kvProbe === false ? undefined : new KvProbeGate(options.kvProbe);
		const warn = (kind: string, err: unknown) => this.#warn(kind, err);
		this.memory = new MemoryLru(options.memoryBytes ?? 16 * 1024 * 1024);
		this.#colo = new ColoCache(options.cacheName ?? "tiercache", options.openCache);
		this.hotKeys = new HotKeys(options.hotKeys ?? 512);
		const { random: clockRandom, sleep: clockSleep, ...clockOptions } = options.clock ?? {};
		this.clock = new InvalidationClock(clockOptions, this.#now, clockRandom, clockSleep);
		this.#tierTimeoutMs = timeoutOption("tierTimeoutMs", options.tierTimeoutMs, DEFAULT_TIER_TIMEOUT_MS);
		this.#tiers = new TierStore(this.memory, this.#colo, this.stats, warn, this.#tierTimeoutMs);
		this.#origin = new OriginFill(options, this.stats, this.#now, warn);
		this.#invalidations = new Invalidations(
			options,
			this.clock,
			this.stats,
			warn,
			(env) => this.#clockSource(env),
			(env, target, scope) => this.#rewarmOnWrite(env, target, scope),
		);
		this.#responses = new Responses(this.stats);
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
	read<L extends Loaded>(
		c: Context<E>,
		policy: CachePolicy,
		load: Loader<Db, L>,
		options: ReadOptions = {},
	): Promise<ReadResponse<L>> {
		const preset = cacheableRequest(c);
		const version = preset === undefined ? "" : this.#options.version(c);
		const hit = preset === undefined ? undefined : this.#memoryHit(c, policy, load, options, version, preset);
		return (hit ? Promise.resolve(hit) : this.#serve(c, policy, load, options, preset, version)) as unknown as Promise<
			ReadResponse<L>
		>;
	}

	/**
	 * The common case without a promise: a fresh entry in memory, found valid
	 * against this very view of the clock, which needs no wait. Anything else
	 * (and any view of the body) is left to `#serve`, before any effect.
	 */
	#memoryHit<L extends Loaded>(
		c: Context<E>,
		routePolicy: CachePolicy,
		load: Loader<Db, L>,
		options: ReadOptions,
		versioned: string | Promise<string>,
		preset: Headers,
	): Response | undefined {
		if (options.view) return undefined;
		const policy = this.#withOverrides(routePolicy, c.env);
		if (policy.tiers[0] !== "memory") return undefined;
		const version = this.#settled(versioned);
		if (version === undefined) return undefined;
		const request = this.#requestKey(c, version, policy);
		const started = performance.now();
		const fresh = this.#freshInMemory(request.key, c.env, (promise) => this.#waitUntil(c, promise));
		if (!fresh) return undefined;
		const { entry, now, clock } = fresh;
		this.memory.get(request.key); // most recently used
		this.stats.requests++;
		this.stats.tiers.memory.hits++;
		const refresh =
			(this.#front !== undefined && this.#frontRefresh.delete(c.req.raw)) ||
			shouldRefreshEarly(entry, policy, now, this.#random);
		if (refresh || this.#kvPending.has(entry)) {
			const scope = this.#scope(c, options, preset);
			scope.clock = clock;
			scope.request = request;
			this.#admitToKv(scope, request.key, entry);
			if (refresh) {
				this.stats.origin.earlyRefreshes++;
				this.#refreshInBackground(scope, policy, request.key, load);
			}
		}
		if (!request.rewarm) {
			this.hotKeys.record(request.key, request.path, validationTags(entry));
			this.#front?.remember(
				pathAndQuery(c.req.url),
				request.key,
				request.path,
				routePolicy,
				version,
				() => c.req.routePath,
			);
		}
		return this.#responses.memoryHit(
			c.req.header("If-None-Match"),
			policy,
			entry,
			now,
			preset,
			performance.now() - started,
		);
	}

	/**
	 * A fresh entry in memory under `key`, found valid against this very view
	 * of the clock, which needs no wait (a memory hit); undefined otherwise.
	 * An entry last found valid against an earlier view is checked against
	 * this one here, when the view alone can tell (no look-up in D1): every
	 * invalidation moves the view, and an entry read less often than that
	 * would otherwise never be answered without a promise.
	 */
	#freshInMemory(
		key: string,
		env: E["Bindings"],
		waitUntil: (promise: Promise<unknown>) => void,
	): { entry: Entry; now: number; clock: ClockState } | undefined {
		const entry = this.memory.peek(key);
		if (!entry) return undefined;
		const view = this.clock.view;
		if (this.#validAt.get(entry) !== view.generation) {
			if (view.validity(entry.readSeq, validationTags(entry)) !== true) return undefined;
			this.#validAt.set(entry, view.generation);
		}
		const now = this.#now();
		if (!isFresh(entry, now)) return undefined;
		const clock = this.clock.stateNow(() => this.#clockSource(env), waitUntil);
		return clock ? { entry, now, clock } : undefined;
	}

	/**
	 * The Worker's fetch handler with a front door: a GET or HEAD for a URL
	 * (path and query) that the app has answered from this isolate's memory
	 * before is answered again from memory, before the app runs (no routing,
	 * middleware or validation), when its entry is there, fresh and valid
	 * against this very view of the clock: the same checks, headers and
	 * counters as the app's memory hit. Everything else goes to `fetch` (the
	 * app): other methods, `Authorization` or `Cookie`, what `bypass` names,
	 * misses, and hits that have work to do (an early refresh, a KV write).
	 *
	 * Only for apps in which nothing but the engine decides a cacheable read's
	 * answer: no middleware or handler may refuse one (an API key, an IP rule,
	 * a rate limit: name those requests in `bypass`), and routes return
	 * `cache.read(...)` as it is. Headers the app's middleware adds to every
	 * answer are added by `decorate`. `version` is called without a Context
	 * and must not depend on the request. A `bypass`, `version` or `decorate`
	 * that throws sends the request to the app (the error is logged).
	 */
	front(fetch: FetchHandler<E["Bindings"]>, options: FrontOptions<E["Bindings"]> = {}): FetchHandler<E["Bindings"]> {
		const routes = new FrontRoutes(options.maxUrls ?? 10_000);
		this.#front = routes;
		const { decorate, bypass } = options;
		return (request, env, ctx) => {
			let hit: { response: Response; route: string } | undefined;
			try {
				hit = this.#frontHit(routes, request, env, ctx, bypass);
				if (hit) decorate?.(hit.response, { request, env, route: hit.route });
			} catch (err) {
				// A failing `bypass`, `version` or `decorate`: the app answers, as it would without the front door.
				this.#warn("front", err);
				hit = undefined;
			}
			return hit ? hit.response : fetch(request, env, ctx);
		};
	}

	#frontHit(
		routes: FrontRoutes,
		request: Request,
		env: E["Bindings"],
		ctx: ExecutionContext,
		bypass: ((request: Request) => boolean) | undefined,
	): { response: Response; route: string } | undefined {
		const method = request.method;
		if (method !== "GET" && method !== "HEAD") return undefined;
		const headers = request.headers;
		if (headers.has("Authorization") || headers.has("Cookie")) return undefined;
		const url = request.url;
		const target = pathAndQuery(url);
		const known = routes.get(target);
		// The engine's own re-warm requests load through the app.
		if (!known || url.includes(REWARM_HOST) || bypass?.(request)) return undefined;
		if (this.#settled(this.#options.version()) !== known.version) return undefined;
		const policy = this.#withOverrides(known.policy, env);
		if (policy.tiers[0] !== "memory") return undefined;
		const started = performance.now();
		const fresh = this.#freshInMemory(known.key, env, (promise) => this.#keepAlive(ctx, promise));
		if (!fresh) return undefined;
		const { entry, now } = fresh;
		// Work a hit does besides answering is the app's: its KV write, and the early refresh (which needs the loader).
		if (this.#kvPending.has(entry)) return undefined;
		if (shouldRefreshEarly(entry, policy, now, this.#random)) {
			this.#frontRefresh.add(request);
			return undefined;
		}
		this.memory.get(known.key); // most recently used
		routes.used(target, known);
		this.stats.requests++;
		this.stats.tiers.memory.hits++;
		this.stats.served.front++;
		this.hotKeys.record(known.key, known.path, validationTags(entry));
		const response = this.#responses.memoryHit(
			headers.get("If-None-Match"),
			policy,
			entry,
			now,
			undefined,
			performance.now() - started,
			method !== "HEAD",
		);
		return { response, route: known.route };
	}

	/** A second request for an entry not yet in KV (`kvAdmission: "second-request"`): it is written now. */
	#admitToKv(scope: RequestScope<E>, key: string, entry: Entry): void {
		if (!this.#kvPending.delete(entry)) return;
		this.#tiers.store(() => this.#options.kv(scope.env), scope.waitUntil, ["kv"], key, entry);
	}

	/** The key version when it is known without waiting: a string, or a promise that has settled before. */
	#settled(version: string | Promise<string>): string | undefined {
		if (typeof version === "string") return version;
		const settled = this.#versions.get(version);
		if (settled === undefined) version.then((v) => this.#versions.set(version, v)).catch(() => {});
		return settled;
	}

	#scope(c: Context<E>, options: ReadOptions, preset?: Headers): RequestScope<E> {
		return {
			c,
			env: c.env,
			preset,
			waitUntil: (promise) => this.#waitUntil(c, promise),
			view: options.view,
		};
	}

	/** Background work of a request: kept alive past the answer, its failure logged (never thrown). */
	#waitUntil(c: Context<E>, promise: Promise<unknown>): void {
		let ctx: Pick<ExecutionContext, "waitUntil"> | undefined;
		try {
			ctx = c.executionCtx;
		} catch {
			// No execution context (e.g. `app.request` in a script): the work still runs.
		}
		this.#keepAlive(ctx, promise);
	}

	#keepAlive(ctx: Pick<ExecutionContext, "waitUntil"> | undefined, promise: Promise<unknown>): void {
		const settled = promise.catch((err) => this.#warn("background", err));
		try {
			ctx?.waitUntil(settled);
		} catch {
			// An execution context that no longer takes work: the work still runs.
		}
	}

	async #serve<L extends Loaded>(
		c: Context<E>,
		routePolicy: CachePolicy,
		load: Loader<Db, L>,
		options: ReadOptions,
		preset: Headers | undefined,
		version: string | Promise<string>,
	): Promise<Response> {
		const policy = this.#withOverrides(routePolicy, c.env);
		const scope = this.#scope(c, options, preset);
		this.stats.requests++;
		if (preset === undefined) return this.#bypass(scope, policy, load);
		const request = this.#requestKey(c, this.#settled(version) ?? (await version), policy);
		scope.request = request;
		const key = request.key;
		const kv = () => this.#options.kv(scope.env);
		const outcomes: TierOutcome[] = [];
		const timings: [string, number][] = [];
		const above: TierName[] = [];
		let staleCandidate: { entry: Entry; tier: TierName } | undefined;

		// No entry is validated against a view of the clock older than a second
		// (a request waits only when the view is that old, or absent).
		const clock =
			this.clock.stateNow(() => this.#clockSource(scope.env), scope.waitUntil) ??
			(await this.clock.ensureFresh(this.#clockSource(scope.env), scope.waitUntil));
		scope.clock = clock;
		if (clock.waited) timings.push(["clock", clock.waitedMs]);
		// Past memory, while KV has answered this isolate lately (a location
		// warming up) the remote tiers are probed together: a miss costs one
		// round trip instead of two, a colo hit one spare KV read. Otherwise
		// (a warm location, where KV only serves the others) KV is read only
		// after the Cache API missed.
		const remote = new Map<TierName, Promise<Entry | undefined | TierFailure>>();
		for (const tier of policy.tiers) {
			const started = performance.now();
			if (tier !== "memory" && remote.size === 0) {
				const together = this.#now() - this.#kvAnsweredAt < KV_TOGETHER_MS;
				for (const t of policy.tiers) {
					if (t !== "memory" && (together || t === tier)) remote.set(t, this.#tiers.get(kv, t, key));
				}
			}
			const counters = this.stats.tiers[tier];
			// Not while the clock is unreadable (KV may then answer marked, and a load would fail),
			// nor for soft invalidation (an invalidated KV entry is still an answer).
			const gated =
				tier === "kv" && !remote.has(tier) && clock.available && policy.onInvalidate !== "soft"
					? this.#kvGate
					: undefined;
			if (gated && !gated.shouldProbe()) {
				counters.skippedReads++;
				outcomes.push({ tier, kind: "skipped", stored: false });
				above.push(tier);
				continue;
			}
			const read =
				tier === "memory" ? this.memory.get(key) : await (remote.get(tier) ?? this.#tiers.get(kv, tier, key));
			const entry = read instanceof TierFailure ? undefined : (read as Entry | undefined);
			// An entry found valid against this very view is valid still (no promise for it).
			const checked =
				entry && (this.#validAt.get(entry) === this.clock.view.generation || (await this.#isValid(scope, entry, tier)));
			// The tier's read, or the look-up that checks what it returned, failed or took too long.
			const failure = read instanceof TierFailure ? read : checked instanceof TierFailure ? checked : undefined;
			const valid = checked instanceof TierFailure ? undefined : checked;
			timings.push([tier, performance.now() - started]);
			const now = this.#now();
			if (tier === "kv") this.#kvGate?.record(!!entry && valid === true && inStaleWhileRevalidate(entry, now));
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
			} else if (failure || (entry && valid === undefined)) {
				// The tier (or the seq look-up) failed or took too long: a miss, never a failed read.
				counters.errors++;
				counters.misses++;
				outcomes.push({ tier, kind: failure?.reason ?? "error", stored: false });
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
				outcomes.push(this.#freshHit(scope, kv, tier, entry, above, key, now));
				if (tier === "memory") this.#admitToKv(scope, key, entry);
				if (shouldRefreshEarly(entry, policy, now, this.#random)) {
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
			for (const outcome of outcomes) {
				if ("stored" in outcome)
					outcome.stored = entry.storable && !(outcome.tier === "kv" && this.#kvPending.has(entry.entry));
			}
			return this.#respond(scope, policy, entry.entry, outcomes, timings, key);
		} catch (err) {
			timings.push(["origin", performance.now() - started]);
			const now = this.#now();
			// KV was skipped (it answers almost nothing here): before failing, ask it after all.
			const kvEntry = outcomes.some((o) => o.kind === "skipped")
				? await this.#kvAfterFailure(scope, kv, key, now, timings)
				: undefined;
			if (kvEntry && isFresh(kvEntry, now)) {
				const index = outcomes.findIndex((o) => o.tier === "kv");
				const missed = above.filter((t) => t !== "kv");
				outcomes[index] = this.#freshHit(scope, kv, "kv", kvEntry, missed, key, now);
				return this.#respond(scope, policy, kvEntry, outcomes.slice(0, index + 1), timings, key);
			}
			// Of two entries inside stale-if-error, the newer one.
			if (
				kvEntry &&
				(!staleCandidate ||
					!inStaleIfError(staleCandidate.entry, now) ||
					kvEntry.storedAt > staleCandidate.entry.storedAt)
			) {
				staleCandidate = { entry: kvEntry, tier: "kv" };
			}
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
	invalidateTags(
		env: E["Bindings"],
		tags: readonly string[],
		background?: Background,
		sameTransaction?: InvalidationStatements,
		source?: InvalidationSource,
	): Promise<number> {
		return this.#invalidations.invalidateTags(env, tags, background, sameTransaction, source);
	}

	/**
	 * Invalidates everything: bumps the counter and raises the floor to it, so
	 * no entry read before is valid anywhere; the edge is purged entirely.
	 */
	invalidateEverything(
		env: E["Bindings"],
		background?: Background,
		sameTransaction?: InvalidationStatements,
		source?: InvalidationSource,
	): Promise<number> {
		return this.#invalidations.invalidateEverything(env, background, sameTransaction, source);
	}

	/**
	 * After a write whose D1 triggers bumped these tags: this isolate's next
	 * read is fresh at once; the edge purge is tried before the answer and
	 * queued (see `Invalidations.afterWrite`). Given the snapshot of a write
	 * whose `cache.batch` named these tags (`{ tags }`), it reads nothing more
	 * of D1: the tags' seqs were read in the write's transaction.
	 */
	afterWrite(env: E["Bindings"], tags: readonly string[], background?: Background, snapshot?: Snapshot): Promise<void> {
		return this.#invalidations.afterWrite(env, tags, background, snapshot && this.#writeReads.get(snapshot));
	}

	/**
	 * Runs a write's queries as one D1 batch (one transaction) and reads
	 * `cache_seq` last in it: `snapshot` stands for the state the queries left,
	 * their triggers' bumps included, so answers built from the rows they
	 * returned can be stored at it (`store`) and the next read of those keys
	 * needs no load. With `tags` (those the write's triggers bump), the batch
	 * also reads what `afterWrite(env, tags, scope, snapshot)` needs, which
	 * then makes no D1 round trip of its own.
	 *
	 * @example
	 * ```ts
	 * const tags = [`thing:${id}`];
	 * const update = db.update(things).set(patch).where(eq(things.id, id)).returning();
	 * const { results: [[row]], snapshot } = await cache.batch(db, [update], { tags });
	 * await cache.store(c.env, snapshot, [{ policy: policies.thing, params: { id }, answer: thingAnswer(row) }], writeScope(c));
	 * await cache.afterWrite(c.env, tags, writeScope(c), snapshot);
	 * ```
	 */
	async batch<U extends BatchItem<"sqlite">, T extends Readonly<[U, ...U[]]>>(
		db: Db,
		queries: T,
		{ tags }: { tags?: readonly string[] } = {},
	): Promise<{ results: BatchResponse<T>; snapshot: Snapshot }> {
		const reads = tags && tags.length > 0 ? this.#invalidations.writeReads(tags) : undefined;
		const extra = [sql.raw(SEQ_SQL.read), ...(reads?.statements ?? [])].map((statement) => db.all(statement));
		const results = (await db.batch([...queries, ...extra] as never)) as unknown[];
		const [seqRows, ...readRows] = results.splice(queries.length) as unknown[][];
		const snapshot = snapshotAt(counterValue(seqRows?.[0] as { value: number } | undefined));
		if (reads) this.#writeReads.set(snapshot, reads.take(readRows));
		return { results: results as BatchResponse<T>, snapshot };
	}

	/**
	 * Stores answers that were read in one D1 snapshot (a write's, through
	 * `batch`) under their routes' keys, as if those keys had been loaded then:
	 * in this isolate's memory (unless it holds an entry read as late or later,
	 * or has no room without evicting) and in the location's Cache API (in
	 * `waitUntil`), or in the tiers an answer names; never in KV. They are
	 * validated as every entry is: a later bump of one of their tags makes
	 * them misses. Keys are built as the routes' requests build them, with
	 * `version()` called without a Context (as for `prefill`). Returns how
	 * many were stored.
	 */
	async store(
		env: E["Bindings"],
		snapshot: Snapshot,
		answers: readonly RelatedAnswer[],
		background?: Background,
	): Promise<number> {
		if (!(snapshot instanceof Snapshot)) throw new TypeError("store() takes the snapshot that cache.batch() returned");
		const pending: Promise<unknown>[] = [];
		const waitUntil = toWriteScope(background).waitUntil ?? ((promise) => pending.push(promise));
		const stored = await this.#storeAnswers(env, waitUntil, snapshot.readSeq, answers, this.#now());
		await Promise.all(pending);
		return stored;
	}

	/** Stores answers read at `readSeq` (see `store`); answers a policy would not store are skipped. */
	async #storeAnswers(
		env: E["Bindings"],
		waitUntil: WaitUntil,
		readSeq: number,
		answers: readonly RelatedAnswer[],
		storedAt: number,
	): Promise<number> {
		const version = await this.#options.version();
		// All checked before any is stored: a bad one stores none.
		for (const { policy, tiers } of answers) {
			if (tiers?.some((t) => !STORED_TIERS.includes(t))) {
				throw new TypeError(
					`answer for policy '${policy.name}': tiers may name ${STORED_TIERS.map((t) => `"${t}"`).join(" and ")} only, not ${JSON.stringify(tiers)}`,
				);
			}
		}
		let stored = 0;
		for (const { policy: routePolicy, params, query, answer, tiers } of answers) {
			const policy = this.#withOverrides(routePolicy, env);
			if (answer.status !== 200 && policy.notFoundTtl <= 0) {
				this.stats.stored.skipped++;
				continue;
			}
			const key = this.#keyOf(version, policy, { params, query });
			const held = this.memory.peek(key);
			if (held && (held.readSeq >= readSeq || this.#unchangedUpTo(held, readSeq))) {
				this.stats.stored.skipped++;
				continue;
			}
			const into = policy.tiers.filter((t) => t !== "kv" && (tiers ?? STORED_TIERS).includes(t));
			const entry = entryOf(answer, policy, readSeq, storedAt, 0);
			// Nobody asked for it yet: it takes memory only where memory has room.
			this.#tiers.store(() => this.#options.kv(env), waitUntil, into, key, entry, false);
			if (!into.includes("colo") && this.memory.peek(key) !== entry) {
				this.stats.stored.skipped++;
				continue;
			}
			this.stats.stored.answers++;
			stored++;
		}
		return stored;
	}

	/** The cron's work: hands every bump nobody handled to the edge purge (see `Invalidations.sweep`). */
	sweep(env: E["Bindings"], sweepLimit?: number): Promise<SweepResult> {
		return this.#invalidations.sweep(env, sweepLimit);
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
		const key = this.#keyOf(await this.#options.version(), policy, inputs);
		const pending: Promise<unknown>[] = [];
		const { entry, batched } = await this.#origin.fill(env, policy, load);
		if (batched)
			this.#tiers.store(
				() => this.#options.kv(env),
				(p) => pending.push(p),
				policy.tiers,
				key,
				entry,
			);
		await Promise.all(pending);
		return entry;
	}

	/**
	 * Re-warms the hottest keys that an invalidation touched, by requesting
	 * them again through `fetchPath` (the app), so their next visitor gets a
	 * hit. At most `max` keys and `budgetMs`, one at a time; skipped while the
	 * origin has failed in the last 30 s. With `skipCurrent`, keys whose entry
	 * in memory is fresh and valid against this isolate's view are left as
	 * they are (a write stored their new answers).
	 */
	async rewarm(
		target: PurgeTarget,
		fetchPath: (url: string) => Promise<Response>,
		{
			max = 20,
			budgetMs = 5_000,
			minReads = 1,
			skipCurrent = false,
		}: { max?: number; budgetMs?: number; minReads?: number; skipCurrent?: boolean } = {},
	): Promise<{ rewarmed: number; skipped: boolean }> {
		if (this.#now() - this.#origin.lastErrorAt < 30_000) {
			this.stats.rewarm.skipped++;
			return { rewarmed: 0, skipped: true };
		}
		const tags = "tags" in target ? new Set(target.tags) : undefined;
		const started = Date.now();
		let rewarmed = 0;
		for (const hot of this.hotKeys.hottest(tags, max, minReads)) {
			if (Date.now() - started > budgetMs) break;
			if (skipCurrent && this.#currentInMemory(hot.key)) continue;
			const response = await fetchPath(`https://${REWARM_HOST}${hot.path}`);
			await response.body?.cancel();
			if (response.status >= 500) break;
			rewarmed++;
		}
		this.stats.rewarm.keys += rewarmed;
		return { rewarmed, skipped: false };
	}

	/**
	 * A fresh entry in memory that nothing invalidated up to `readSeq`: the
	 * view has reached `readSeq` and finds the entry valid, so an answer read
	 * at `readSeq` holds what it holds, and storing that answer again would
	 * only write the Cache API for nothing (the entry came from it, or was
	 * written to it when it was stored here).
	 */
	#unchangedUpTo(held: Entry, readSeq: number): boolean {
		return this.clock.view.counter >= readSeq && this.#current(held);
	}

	/** A fresh entry in this isolate's memory that its view of the clock finds valid. */
	#currentInMemory(key: string): boolean {
		const entry = this.memory.peek(key);
		return entry !== undefined && this.#current(entry);
	}

	/** Fresh, and valid against this isolate's view of the clock. */
	#current(entry: Entry): boolean {
		return isFresh(entry, this.#now()) && this.clock.view.validity(entry.readSeq, validationTags(entry)) === true;
	}

	/** `rewarmOnWrite`: the hot keys an invalidation made here touched, re-warmed in its `waitUntil`. */
	#rewarmOnWrite(env: E["Bindings"], target: PurgeTarget, scope: WriteScope): void {
		const options = this.#options.rewarmOnWrite;
		if (!options || !scope.waitUntil) return;
		const rewarmed = this.rewarm(target, (url) => options.fetch(env, url, scope.executionCtx), {
			max: options.max ?? 8,
			minReads: options.minReads ?? 2,
			// This isolate's view holds the write's bumps: a key valid against it was written through.
			skipCurrent: true,
		});
		scope.waitUntil(rewarmed.catch((err) => this.#warn("rewarm", err)));
	}

	/** A fresh, valid entry answers from `tier`: counted, and stored in the tiers above it that missed (`above`). */
	#freshHit(
		scope: RequestScope<E>,
		kv: () => KVNamespace,
		tier: TierName,
		entry: Entry,
		above: readonly TierName[],
		key: string,
		now: number,
	): TierOutcome {
		if (tier === "kv") this.#kvAnsweredAt = now;
		this.stats.tiers[tier].hits++;
		if (above.length > 0) this.#tiers.store(kv, scope.waitUntil, above, key, entry);
		return { tier, kind: "hit", ttl: ttlLeft(entry, now) };
	}

	/**
	 * After the origin failed on a read that skipped KV: KV's entry, if it has
	 * a valid one that may still be served (fresh, or inside stale-if-error).
	 */
	async #kvAfterFailure(
		scope: RequestScope<E>,
		kv: () => KVNamespace,
		key: string,
		now: number,
		timings: [string, number][],
	): Promise<Entry | undefined> {
		const started = performance.now();
		const counters = this.stats.tiers.kv;
		const read = await this.#tiers.get(kv, "kv", key);
		const entry = read instanceof TierFailure ? undefined : read;
		const valid = entry && inStaleIfError(entry, now) ? await this.#isValid(scope, entry, "kv") : undefined;
		if (valid === false) counters.invalidated++;
		if (read instanceof TierFailure || valid instanceof TierFailure) counters.errors++;
		const usable = entry && valid === true ? entry : undefined;
		timings.push(["kv", performance.now() - started]);
		this.#kvGate?.record(!!usable && inStaleWhileRevalidate(usable, now));
		return usable;
	}

	/**
	 * Valid, invalid, undefined when the clock is unavailable and the view
	 * cannot tell, or a `TierFailure` when the look-up failed or took longer
	 * than the tier timeout (a miss): checked against this isolate's view of
	 * the clock, with a per-tag look-up in D1 for entries older than the view
	 * (not while the clock is unavailable). An answer is reused while the view
	 * has not changed. A look-up that times out counts in `tier`'s timeouts,
	 * as the tier's own reads do (`TierStore.get`).
	 */
	async #isValid(scope: RequestScope<E>, entry: Entry, tier: TierName): Promise<boolean | undefined | TierFailure> {
		const generation = this.clock.view.generation;
		if (this.#validAt.get(entry) === generation) return true;
		try {
			const valid = await this.clock.validity(
				this.#clockSource(scope.env),
				entry.readSeq,
				validationTags(entry),
				scope.clock?.available !== false,
				this.#tierTimeoutMs,
			);
			if (valid && this.clock.view.generation === generation) this.#validAt.set(entry, generation);
			return valid;
		} catch (err) {
			this.#warn("clock", err);
			if (!(err instanceof TimeoutError)) return TierFailure.error;
			this.stats.tiers[tier].timeouts++;
			return TierFailure.timeout;
		}
	}

	#clockSource(env: E["Bindings"]): ClockSource {
		const d1 = this.#options.database(env);
		let source = this.#clockSources.get(d1);
		if (!source) {
			source = clockSource(d1, () => this.#colo.open());
			this.#clockSources.set(d1, source);
		}
		return source;
	}

	/** The request's key (memoised per version, route and URL; see `#keys`). */
	/** The key a route's request with these validated params and query has (no Context: prefill, stored answers). */
	#keyOf(
		version: string,
		policy: CachePolicy,
		{ params, query }: { params?: Record<string, unknown>; query?: Record<string, unknown> },
	): string {
		return buildKey({
			version,
			route: policy.name,
			params: params ?? {},
			query: query ?? {},
			keyQuery: policy.keyQuery,
		});
	}

	#requestKey(c: Context<E>, version: string, policy: CachePolicy): RequestKey {
		const url = c.req.url;
		const memo = `${version}\n${policy.name}\n${url}`;
		let known = this.#keys.get(memo);
		if (!known) {
			const query = url.indexOf("?");
			known = {
				key: buildKey({ version, route: policy.name, ...keyInputs(c), keyQuery: policy.keyQuery }),
				path: c.req.path + (query >= 0 ? url.slice(query) : ""),
				rewarm: url.includes(REWARM_HOST),
			};
			if (this.#keys.size >= KEY_MEMO_SIZE) this.#keys.clear();
			this.#keys.set(memo, known);
		}
		return known;
	}

	async #load<L extends Loaded>(
		scope: RequestScope<E>,
		policy: CachePolicy,
		key: string,
		load: Loader<Db, L>,
		cause: LoadCause,
	): Promise<{ entry: Entry; storable: boolean }> {
		const fill = async () => {
			this.stats.origin.byCause[cause]++;
			const { entry, batched, related } = await this.#origin.fill(scope.env, policy, load);
			const storable = batched && (entry.status === 200 || policy.notFoundTtl > 0);
			if (storable) {
				let tiers = policy.tiers;
				if (policy.kvAdmission === "second-request" && tiers.includes("kv")) {
					// Written to KV from the next hit on it here, if there is one (see `#admitToKv`).
					tiers = tiers.filter((t) => t !== "kv");
					this.#kvPending.add(entry);
				}
				this.#tiers.store(() => this.#options.kv(scope.env), scope.waitUntil, tiers, key, entry);
			}
			if (batched && related.length > 0) {
				await this.#storeAnswers(scope.env, scope.waitUntil, entry.readSeq, related, entry.storedAt);
			}
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
			if (!joined || this.clock.view.validity(result.entry.readSeq, validationTags(result.entry)) !== false)
				return result;
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

	async #bypass<L extends Loaded>(scope: RequestScope<E>, policy: CachePolicy, load: Loader<Db, L>): Promise<Response> {
		this.stats.bypassed++;
		const started = performance.now();
		let entry: Entry;
		try {
			entry = (await this.#origin.fill(scope.env, policy, load)).entry;
		} catch (err) {
			this.stats.served.unavailable++;
			throw err instanceof HTTPException ? err : new OriginUnavailableError(err);
		}
		return this.#responses.bypassed(scope.c, policy, entry, performance.now() - started, scope.view);
	}

	#respond(
		scope: RequestScope<E>,
		policy: CachePolicy,
		entry: Entry,
		outcomes: TierOutcome[],
		timings: [string, number][],
		key: string,
	): Promise<Response> {
		const request = scope.request;
		if (request && !request.rewarm) this.hotKeys.record(key, request.path, validationTags(entry));
		return this.#responses.respond(scope.c, policy, entry, outcomes, timings, this.#now(), scope.preset, scope.view);
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

/** A timeout option: a positive, finite number of milliseconds, or the default when unset. */
function timeoutOption(name: string, value: number | undefined, fallback: number): number {
	if (value === undefined) return fallback;
	if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
		throw new Error(`${name} must be a positive number of milliseconds, got ${String(value)}`);
	}
	return value;
}
