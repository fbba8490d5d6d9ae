/** The tiers the engine reads through, nearest first. */
export const TIERS = ["memory", "colo", "kv"] as const;
export type TierName = (typeof TIERS)[number];

/** How one route is cached. Every field has a default in `DEFAULT_POLICY`. */
export interface CachePolicy {
	/** Name of the route in keys, stats and logs (e.g. "product"). */
	name: string;
	/** Seconds an answer is fresh in T1–T3. */
	ttl: number;
	/** Seconds after `ttl` during which a stale answer is served while one refresh runs. */
	staleWhileRevalidate: number;
	/** Seconds after `ttl` during which a stale answer is served when the origin fails. */
	staleIfError: number;
	/** `max-age` for browsers, which no one can purge. */
	browserTtl: number;
	/** `max-age` for Cloudflare's edge (T0), which is purged by tag. */
	edgeTtl: number;
	/** Seconds a 404 answer is cached (negative caching). */
	notFoundTtl: number;
	/** Which tiers to use, nearest first. */
	tiers: readonly TierName[];
	/**
	 * Query parameters that form the key, from the route's validated (zod)
	 * query; undefined means all of them. Values are normalised by the
	 * schema (defaults applied), names sorted.
	 */
	keyQuery?: readonly string[];
	/** XFetch's beta: > 0 refreshes hot keys early, before they expire; 0 turns it off. */
	earlyRefreshBeta: number;
	/**
	 * What an invalidation does to an entry: "hard" (default) makes it
	 * unusable; "soft" makes it stale, so for `staleWhileRevalidate` seconds
	 * after this isolate first sees it invalidated it is served while exactly
	 * one refresh runs, and never after.
	 */
	onInvalidate: "hard" | "soft";
	/**
	 * When a load is written to KV: "fill" (default) with the other tiers;
	 * "second-request" only once this isolate is asked for the same entry
	 * again (it is then written from that hit), so keys read once — a long
	 * tail — cost no KV write. A key's first answer then says `fwd=miss` for
	 * KV without `stored`, and other locations find it in KV only after it
	 * was read twice here.
	 */
	kvAdmission: "fill" | "second-request";
}

export type PolicyOptions = Partial<Omit<CachePolicy, "name">> & { name: string };

/** The defaults, in one place. */
export const DEFAULT_POLICY: Omit<CachePolicy, "name"> = {
	ttl: 60,
	staleWhileRevalidate: 30,
	staleIfError: 300,
	browserTtl: 0,
	edgeTtl: 60,
	notFoundTtl: 10,
	tiers: TIERS,
	earlyRefreshBeta: 1,
	onInvalidate: "hard",
	kvAdmission: "fill",
};

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/**
 * A route's cache policy: the defaults, overridden by `options`.
 *
 * @param options - at least a `name`; any field of {@link CachePolicy}.
 * @example
 * ```ts
 * const productPolicy = definePolicy({ name: "product", ttl: 120 });
 * ```
 */
export function definePolicy(
	options: PolicyOptions,
	defaults: Omit<CachePolicy, "name"> = DEFAULT_POLICY,
): CachePolicy {
	const policy: CachePolicy = { ...defaults, ...stripUndefined(options), name: options.name };
	if (!NAME.test(policy.name)) throw new Error(`cache policy name '${policy.name}' must match ${NAME}`);
	for (const field of [
		"ttl",
		"staleWhileRevalidate",
		"staleIfError",
		"browserTtl",
		"edgeTtl",
		"notFoundTtl",
	] as const) {
		const value = policy[field];
		if (!Number.isInteger(value) || value < 0 || value > 31_536_000) {
			throw new Error(`cache policy '${policy.name}': ${field} must be whole seconds from 0 to a year`);
		}
	}
	if (policy.ttl < 1) throw new Error(`cache policy '${policy.name}': ttl must be at least 1 second`);
	if (policy.onInvalidate !== "hard" && policy.onInvalidate !== "soft") {
		throw new Error(`cache policy '${policy.name}': onInvalidate must be "hard" or "soft"`);
	}
	if (policy.kvAdmission !== "fill" && policy.kvAdmission !== "second-request") {
		throw new Error(`cache policy '${policy.name}': kvAdmission must be "fill" or "second-request"`);
	}
	for (const tier of policy.tiers) {
		if (!TIERS.includes(tier)) throw new Error(`cache policy '${policy.name}': unknown tier '${tier}'`);
	}
	return policy;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
	return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
