import { sql } from "drizzle-orm";
import type { Env as HonoEnv } from "hono";
import { LATE, within } from "./deadline.js";
import { type Entry, etagOf } from "./entry.js";
import type { CachePolicy } from "./policy.js";
import { SEQ_SQL } from "./seq-sql.js";
import type { CacheStats } from "./stats.js";
import type { AnyD1Db, Loaded, Loader, Origin, RelatedAnswer, TierCacheOptions } from "./types.js";

type FillOptions<E extends HonoEnv, Db extends AnyD1Db> = Pick<
	TierCacheOptions<E, Db>,
	"database" | "createDb" | "originDelayMs" | "originTimeoutMs"
>;

/**
 * The origin: runs a route's loader with `cache_seq` read in its first D1
 * batch (one transaction), so the entry's `readSeq` and its data come from
 * one snapshot; a load slower than `originTimeoutMs` counts as a failure.
 */
export class OriginFill<E extends HonoEnv, Db extends AnyD1Db> {
	readonly #options: FillOptions<E, Db>;
	readonly #stats: CacheStats;
	readonly #now: () => number;
	readonly #warn: (kind: string, err: unknown) => void;
	/** When the last load failed (engine time), for re-warm's back-off. */
	lastErrorAt = Number.NEGATIVE_INFINITY;

	constructor(
		options: FillOptions<E, Db>,
		stats: CacheStats,
		now: () => number,
		warn: (kind: string, err: unknown) => void,
	) {
		this.#options = options;
		this.#stats = stats;
		this.#now = now;
		this.#warn = warn;
	}

	/**
	 * Runs the loader; `batched` is false when it read D1 outside `origin.batch`
	 * (the answer is not stored, nor are its `related` answers).
	 */
	async fill<L extends Loaded>(
		env: E["Bindings"],
		policy: CachePolicy,
		load: Loader<Db, L>,
	): Promise<{ entry: Entry; batched: boolean; related: readonly RelatedAnswer[] }> {
		const db = this.#options.createDb(this.#options.database(env));
		const delay = this.#options.originDelayMs?.(env) ?? 0;
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
		const stats = this.#stats.origin;
		const storedAt = this.#now();
		const loadStarted = Date.now(); // real time: early refresh weighs the real cost of a load
		stats.loads++;
		stats.byRoute[policy.name] = (stats.byRoute[policy.name] ?? 0) + 1;
		let loaded: L;
		const timeoutMs = this.#options.originTimeoutMs ?? 10_000;
		try {
			// A slow origin counts as a failing one: stale-if-error answers, or 503.
			const answer = await within(load(origin), timeoutMs, LATE);
			if (answer === LATE) throw new Error(`origin load took longer than ${timeoutMs} ms`);
			loaded = answer;
		} catch (err) {
			stats.errors++;
			this.lastErrorAt = this.#now();
			throw err;
		}
		if (readSeq === undefined) {
			stats.unbatched++;
			this.#warn(
				`unbatched:${policy.name}`,
				new Error(`loader of '${policy.name}' read D1 outside origin.batch: not stored`),
			);
		}
		const entry = entryOf(loaded, policy, readSeq ?? 0, storedAt, Math.max(0, Date.now() - loadStarted));
		return { entry, batched: readSeq !== undefined, related: loaded.related ?? [] };
	}
}

/**
 * The entry of a loaded answer read in the D1 snapshot whose `cache_seq` is
 * `readSeq`, stored at `storedAt` (engine time) after a load of `loadMs`.
 */
export function entryOf(
	loaded: Omit<Loaded, "related">,
	policy: CachePolicy,
	readSeq: number,
	storedAt: number,
	loadMs: number,
): Entry {
	const body = JSON.stringify(loaded.body);
	const notFound = loaded.status === 404;
	return {
		status: loaded.status,
		body,
		etag: etagOf(body),
		tags: [...new Set(loaded.tags)],
		...validateBy(loaded),
		readSeq,
		storedAt,
		ttl: notFound ? Math.max(1, policy.notFoundTtl) : policy.ttl,
		staleWhileRevalidate: notFound ? 0 : policy.staleWhileRevalidate,
		staleIfError: notFound ? 0 : policy.staleIfError,
		loadMs,
	};
}

/** XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh before expiry, more likely the closer and slower. */
export function shouldRefreshEarly(entry: Entry, policy: CachePolicy, now: number, random: () => number): boolean {
	if (policy.earlyRefreshBeta <= 0 || entry.status !== 200) return false;
	const expiry = entry.storedAt + entry.ttl * 1000;
	const delta = Math.max(entry.loadMs, 1);
	return now - delta * policy.earlyRefreshBeta * Math.log(1 - random()) >= expiry;
}

/**
 * `validateBy` for the entry, when the loader narrowed it: only tags among
 * its `tags` count (a tag it did not report cannot be relied on at the
 * edge either), and an empty narrowing is ignored — every entry is validated
 * by at least one tag.
 */
function validateBy(loaded: Omit<Loaded, "related">): { validateBy?: string[] } {
	if (!loaded.validateBy) return {};
	const tags = new Set(loaded.tags);
	const narrowed = [...new Set(loaded.validateBy)].filter((t) => tags.has(t));
	return narrowed.length > 0 && narrowed.length < tags.size ? { validateBy: narrowed } : {};
}
