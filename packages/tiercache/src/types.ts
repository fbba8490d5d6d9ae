import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { Context, Env as HonoEnv, TypedResponse } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ClockOptions } from "./invalidation-clock.js";
import type { KvProbeOptions } from "./kv-probe.js";
import type { CachePolicy } from "./policy.js";

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

/**
 * A loader's answer: status, JSON body, and the tags of every row it read
 * (`Cache-Tag`, `Surrogate-Key`, edge purges). `validateBy`, when given, is
 * the part of `tags` the body actually depends on: only their bumps
 * invalidate the entry in T1–T3, the others label it for the edge (e.g. a
 * product page tagged with its category, so that purging the category at
 * the edge takes it too, though a change elsewhere in the category leaves
 * the page as it is). Omitted: every tag invalidates.
 */
export type Loaded = {
	status: 200 | 404;
	body: unknown;
	tags: string[];
	validateBy?: string[];
	/**
	 * Answers of other routes' keys that the loader read in the same
	 * `origin.batch` (e.g. a product's page, from the product row a page of its
	 * reviews read too): stored as if those keys had been loaded at the same
	 * snapshot, so their next request needs no load (see `TierCache.store`).
	 */
	related?: RelatedAnswer[];
};

/**
 * The answer to another key, read in the same D1 snapshot as the answer or
 * write that carries it: the route's policy, the path parameters and query
 * its key is built from (as the route validated them), and the answer the
 * route's loader would give.
 */
export interface RelatedAnswer {
	policy: CachePolicy;
	params?: Record<string, unknown>;
	query?: Record<string, unknown>;
	answer: Omit<Loaded, "related">;
	/**
	 * Where to store it, among its policy's tiers: `["memory"]` keeps it in
	 * this isolate alone (no Cache API write: for answers a load gives many
	 * of, such as the items of a listing). Default: memory and the Cache API.
	 * Never KV. Either way memory takes it only where it has room: an answer
	 * nobody asked for never evicts one somebody did.
	 */
	tiers?: readonly ("memory" | "colo")[];
}

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
	 * (`maxAgeMs`, 1000), read-your-location's-writes (`headCheckMs`, 50),
	 * and its bounds. See `ClockOptions`. `sleep` waits in the time `now`
	 * keeps (default `scheduler.wait`), for tests that move a clock by hand.
	 */
	clock?: Partial<ClockOptions> & { random?: () => number; sleep?: (ms: number) => Promise<void> };
	/** Policy defaults for this app, over the engine's. */
	defaults?: Partial<Omit<CachePolicy, "name">>;
	/** How long a request waits for the origin before treating it as failed (ms). Default 10,000. */
	originTimeoutMs?: number;
	/**
	 * How long a read waits for the Cache API or KV, and for the D1 look-up
	 * that checks an entry one of them returned, before it treats that tier
	 * as failed and goes on to the next one (ms): `Cache-Status` says
	 * `fwd=miss; detail=timeout` (a look-up that fails: `detail=error`),
	 * counted in the tier's `timeouts` and `errors`. Default 1,000.
	 */
	tierTimeoutMs?: number;
	/** Delay before each origin load (ms); for local benchmarks. */
	originDelayMs?: (env: E["Bindings"]) => number;
	/**
	 * Hands invalidated tags (with their coarser forms) to the edge purge, e.g.
	 * a queue. `purged`: the first attempt (`purgeEdgeNow`) already purged the
	 * edge, so only the delayed re-purge is left. `executionCtx`: the
	 * invalidating request's, when there is one (not for the cron's sweep), to
	 * tell which purgers it has. Rejecting leaves the tags for the cron.
	 */
	purge?: (
		env: E["Bindings"],
		target: PurgeTarget,
		options: { purged: boolean; executionCtx?: ExecutionContext<unknown> },
	) => Promise<void>;
	/**
	 * The first edge purge attempt, made before the answer of a write, a
	 * webhook or an admin purge, and by the cron's sweep (without an execution
	 * context there, so Workers Cache is left to the queue), bounded by
	 * `edgePurgeTimeoutMs`; resolves true when every configured edge was
	 * purged. Its failure never fails the write: the queue (`purge`) retries.
	 */
	purgeEdgeNow?: (env: E["Bindings"], target: PurgeTarget, ctx: ExecutionContext | undefined) => Promise<boolean>;
	/** How long a write waits for the first edge purge attempt (ms). Default 1,000. */
	edgePurgeTimeoutMs?: number;
	/**
	 * Re-warms, as soon as an invalidation made in this isolate has committed,
	 * the hottest keys of this isolate that it touched — read here at least
	 * `minReads` times (default 2), at most `max` of them (default 8) — by
	 * requesting them through the app (`fetch`), in the invalidation's
	 * `waitUntil` and while its answer waits for the location. Their next
	 * reader, at any isolate of the location, then finds them in memory or
	 * the Cache API instead of loading them. Off when unset; the purge
	 * queue's re-warm (`TierCache.rewarm`) is separate.
	 */
	rewarmOnWrite?: {
		fetch: (env: E["Bindings"], url: string, ctx: ExecutionContext | undefined) => Promise<Response>;
		max?: number;
		minReads?: number;
	};
	/**
	 * Windows that replace every route's own, per environment (e.g. short
	 * ones for end-to-end tests of an edge cache); undefined for none. Return
	 * the same object while nothing changes: the merged policies are reused.
	 */
	policyOverrides?: (env: E["Bindings"]) => PolicyOverrides | undefined;
	/**
	 * When a read that memory and the Cache API missed asks KV: always
	 * (`false`), or (the default) while KV answers at least `minHitRate` of
	 * this isolate's probes, and otherwise every `sampleEvery`-th such read
	 * (see `KvProbeGate`). A read that skips KV loads from the origin and
	 * says `tiercache-kv; fwd=miss; detail=skipped`.
	 */
	kvProbe?: false | Partial<KvProbeOptions>;
	/** How many keys to track as hot, for re-warming. Default 512. */
	hotKeys?: number;
	/** Uniform random numbers in [0, 1), for early refresh. */
	random?: () => number;
	/** Wall clock (ms). */
	now?: () => number;
}

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
