import type { SQL } from "drizzle-orm";
import type { Env as HonoEnv } from "hono";
import { deltaQueries, parseDelta } from "./clock-source.js";
import { within } from "./deadline.js";
import { edgePurgeTags } from "./headers.js";
import type { ClockSource, InvalidationClock } from "./invalidation-clock.js";
import { counterValue, inlineSql, SEQ_SQL } from "./seq-sql.js";
import type { CacheStats } from "./stats.js";
import type {
	AnyD1Db,
	InvalidationSource,
	InvalidationStatements,
	PurgeTarget,
	SweepResult,
	TierCacheOptions,
} from "./types.js";
import { type Background, toWriteScope, type WriteScope } from "./write-scope.js";

type InvalidationOptions<E extends HonoEnv> = Pick<
	TierCacheOptions<E, AnyD1Db>,
	"database" | "purge" | "purgeEdgeNow" | "edgePurgeTimeoutMs"
>;

/** Statements of a clock read, bound on this D1 binding. */
const prepared = (d1: D1Database) => (text: string, params: number[]) => d1.prepare(text).bind(...params);

type TagRow = { tag: string; seq: number; handled_seq: number };

/** What `afterWrite` reads of D1, read in the write's own batch instead (see `Invalidations.writeReads`). */
export interface WriteReads {
	tags: ReadonlySet<string>;
	rows: TagRow[];
}

/**
 * Every path of invalidation: a bump committed in D1 (by this engine, or by a
 * trigger with the write), learnt by this isolate's view at once, then the
 * first edge purge attempt, the queue, and the handled mark.
 */
export class Invalidations<E extends HonoEnv> {
	readonly #options: InvalidationOptions<E>;
	readonly #clock: InvalidationClock;
	readonly #stats: CacheStats;
	readonly #warn: (kind: string, err: unknown) => void;
	readonly #clockSource: (env: E["Bindings"]) => ClockSource;
	readonly #committed: (env: E["Bindings"], target: PurgeTarget, scope: WriteScope) => void;

	constructor(
		options: InvalidationOptions<E>,
		clock: InvalidationClock,
		stats: CacheStats,
		warn: (kind: string, err: unknown) => void,
		clockSource: (env: E["Bindings"]) => ClockSource,
		committed: (env: E["Bindings"], target: PurgeTarget, scope: WriteScope) => void = () => {},
	) {
		this.#committed = committed;
		this.#clockSource = clockSource;
		this.#options = options;
		this.#clock = clock;
		this.#stats = stats;
		this.#warn = warn;
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
		const after = sameTransaction.after ?? [];
		const clock = this.#clockRead(prepared(d1));
		const results = await d1.batch<{ value: number }>([
			...before,
			d1.prepare(SEQ_SQL.bump),
			d1.prepare(SEQ_SQL.setTags).bind(JSON.stringify(unique)),
			d1.prepare(SEQ_SQL.read),
			...after,
			...clock.statements,
		]);
		const seq = counterValue(results[before.length + 2]?.results[0]);
		clock.take(results.slice(results.length - clock.statements.length));
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
		const after = sameTransaction.after ?? [];
		const clock = this.#clockRead(prepared(d1));
		const results = await d1.batch<{ value: number }>([
			...before,
			d1.prepare(SEQ_SQL.bump),
			d1.prepare(SEQ_SQL.setFloor),
			d1.prepare(SEQ_SQL.read),
			...after,
			...clock.statements,
		]);
		const seq = counterValue(results[before.length + 2]?.results[0]);
		clock.take(results.slice(results.length - clock.statements.length));
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
	async afterWrite(
		env: E["Bindings"],
		tags: readonly string[],
		background?: Background,
		known?: WriteReads,
	): Promise<void> {
		const unique = [...new Set(tags)];
		if (unique.length === 0) return;
		let rows: TagRow[];
		if (known && unique.every((tag) => known.tags.has(tag))) {
			// Read in the write's own batch (`TierCache.batch` with these tags): no round trip of its own.
			rows = known.rows.filter((r) => unique.includes(r.tag));
		} else {
			const d1 = this.#options.database(env);
			const clock = this.#clockRead(prepared(d1));
			const [tagRows, ...clockResults] = await d1.batch([
				d1.prepare(SEQ_SQL.readTags).bind(JSON.stringify(unique)),
				...clock.statements,
			]);
			rows = (tagRows?.results ?? []) as TagRow[];
			clock.take(clockResults);
		}
		this.#clock.note(new Map(rows.map((r) => [r.tag, Number(r.seq)])));
		// Only bumps nobody has handled yet (this write's, normally) are purged and re-warmed.
		const unhandled = rows.filter((r) => Number(r.seq) > Number(r.handled_seq));
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
			const purgedNow = await this.#purgeEdgeNow(env, { everything: true }, {});
			if (await this.#purge(env, { everything: true }, purgedNow)) {
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
	 * (and before the cron's sweep returns); the queue gets the purge (or only
	 * the re-purge, when the first attempt purged), and the bumps are marked
	 * handled.
	 */
	async #propagate(
		env: E["Bindings"],
		seqs: Map<string, number>,
		floor: number,
		source: InvalidationSource,
		background?: Background,
	): Promise<void> {
		const scope = toWriteScope(background);
		this.#clock.note(seqs, floor);
		// The answer waits until every isolate of the location sees this (headCheckMs after the
		// announcement); the first edge purge attempt runs meanwhile.
		const counter = Math.max(floor, ...seqs.values());
		const announced = this.#clock.announce(this.#clockSource(env), counter, scope.waitUntil ?? (() => {}));
		const tags = [...seqs.keys()];
		this.#record(tags, counter, floor > 0, source);
		const target: PurgeTarget = floor > 0 ? { everything: true } : { tags: edgePurgeTags(tags) };
		// Re-warming the hot keys it touched starts now, while the answer waits for the location.
		if (tags.length > 0) this.#committed(env, { tags }, scope);
		const purgedNow = await this.#purgeEdgeNow(env, target, scope);
		await announced;
		const work = (async () => {
			const handed = await this.#purge(env, target, purgedNow, scope.executionCtx);
			if (handed && seqs.size > 0) {
				const pairs = JSON.stringify([...seqs].map(([tag, seq]) => [tag, seq]));
				await this.#options.database(env).prepare(SEQ_SQL.markHandled).bind(pairs).run();
			}
		})();
		if (scope.waitUntil) scope.waitUntil(work);
		else await work;
	}

	/**
	 * What `afterWrite` reads (the tags' seqs, and the clock's increment when
	 * this isolate has a view), as statements for the write's own drizzle
	 * batch, after its queries: `take` parses their rows, applies the clock's
	 * increment, and returns what `afterWrite` then needs.
	 */
	writeReads(tags: readonly string[]): { statements: SQL[]; take(rows: unknown[][]): WriteReads } {
		const unique = [...new Set(tags)];
		const clock = this.#clockRead((text, params) => inlineSql(text, ...params));
		return {
			statements: [inlineSql(SEQ_SQL.readTags, JSON.stringify(unique)), ...clock.statements],
			take: (rows) => {
				clock.take(rows.slice(1).map((r) => ({ results: r }) as unknown as D1Result));
				return { tags: new Set(unique), rows: (rows[0] ?? []) as TagRow[] };
			},
		};
	}

	/**
	 * A clock read to end a write's own batch with: the view then reaches the
	 * write without a D1 read of its own, and the write's announcement shares it.
	 */
	#clockRead<S>(statement: (text: string, params: number[]) => S): {
		statements: S[];
		take(results: D1Result[]): void;
	} {
		// Without a view yet, the announcement's refresh starts from the location's shared one instead.
		const after = this.#clock.deltaAfter();
		if (this.#clock.options.headCheckMs <= 0 || after === undefined) return { statements: [], take() {} };
		const started = this.#clock.now();
		return {
			statements: deltaQueries(after, this.#clock.options.deltaLimit).map(([text, ...params]) =>
				statement(text, params),
			),
			take: (results) => this.#clock.applyDelta(parseDelta(results), after, started),
		};
	}

	/** The first edge purge attempt, bounded; true when the edge was purged. Never throws. */
	async #purgeEdgeNow(env: E["Bindings"], target: PurgeTarget, scope: WriteScope): Promise<boolean> {
		const purgeEdgeNow = this.#options.purgeEdgeNow;
		if (!purgeEdgeNow || ("tags" in target && target.tags.length === 0)) return false;
		const started = performance.now();
		const timeoutMs = this.#options.edgePurgeTimeoutMs ?? 1000;
		const attempt = purgeEdgeNow(env, target, scope.executionCtx).catch((err) => {
			this.#stats.purges.edgeErrors++;
			this.#warn("edge-purge", err);
			return false;
		});
		// A slow edge never holds the answer past the bound; the attempt may still finish after it.
		scope.waitUntil?.(attempt);
		const purged = await within(attempt, timeoutMs, false);
		if (purged) this.#stats.purges.edgePurgedNow++;
		scope.timing?.("edge-purge", performance.now() - started, purged ? "purged" : "not-purged");
		return purged;
	}

	#record(tags: string[], seq: number, everything: boolean, source: InvalidationSource): void {
		this.#stats.purges.invalidations++;
		this.#stats.purges.tags += tags.length;
		this.#stats.recordInvalidation(source, tags, seq, everything);
	}

	/** Hands tags to the edge purge; false (counted, logged) on failure: the cron hands them again. */
	async #purge(
		env: E["Bindings"],
		target: PurgeTarget,
		purged = false,
		executionCtx?: ExecutionContext<unknown>,
	): Promise<boolean> {
		if (!this.#options.purge) return true;
		if ("tags" in target && target.tags.length === 0) return true;
		try {
			await this.#options.purge(env, target, executionCtx ? { purged, executionCtx } : { purged });
			return true;
		} catch (err) {
			this.#stats.purges.enqueueErrors++;
			this.#warn("purge", err);
			return false;
		}
	}
}
