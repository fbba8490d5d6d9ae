import type { Context } from "hono";
import { type Entry, etagOf, ttlLeft } from "./entry.js";
import { cacheStatus, edgeTags, etagMatches, serverTiming, type TierOutcome } from "./headers.js";
import type { CachePolicy } from "./policy.js";
import type { CacheStats } from "./stats.js";

/**
 * The answer of a cached read: the body (or a view of it), `ETag` and 304,
 * the browser and CDN cache headers, surrogate keys, `Cache-Status` and
 * `Server-Timing`.
 */
export class Responses {
	readonly #stats: CacheStats;
	readonly #surrogates = new WeakMap<Entry, { cacheTag: string; surrogateKey: string }>();
	/**
	 * The headers of an entry's answer that change only with the policy and
	 * the whole seconds of freshness left, built once per entry and second
	 * (hits copy them in one call instead of setting each).
	 */
	readonly #fixed = new WeakMap<Entry, { policy: CachePolicy; cdnMaxAge: number; headers: Headers }>();
	/** The same for a memory hit, with its Cache-Status and Server-Timing. */
	readonly #memoryHits = new WeakMap<Entry, { policy: CachePolicy; ttl: number; headers: Headers }>();

	constructor(stats: CacheStats) {
		this.#stats = stats;
	}

	async respond(
		c: Context,
		policy: CachePolicy,
		entry: Entry,
		outcomes: TierOutcome[],
		timings: [string, number][],
		now: number,
		preset: Headers | undefined,
		view?: (body: unknown) => unknown,
	): Promise<Response> {
		if (!view || entry.status !== 200) return this.respondNow(c, policy, entry, outcomes, timings, now, preset);
		const body = JSON.stringify(view(JSON.parse(entry.body)));
		return this.respondNow(c, policy, entry, outcomes, timings, now, preset, body, etagOf(body));
	}

	/**
	 * The answer with the stored body (or a view's `body` and `etag`), without
	 * a promise. It carries the headers set before it (`preset`, e.g. a request
	 * id) unless it sets the same ones itself.
	 */
	respondNow(
		c: Context,
		policy: CachePolicy,
		entry: Entry,
		outcomes: TierOutcome[],
		timings: [string, number][],
		now: number,
		preset: Headers | undefined,
		body = entry.body,
		etag = entry.etag,
	): Response {
		const cdnMaxAge = Math.max(0, ttlLeft(entry, now));
		let fixed = this.#fixed.get(entry);
		if (etag !== entry.etag) {
			fixed = { policy, cdnMaxAge, headers: this.#fixedHeaders(policy, entry, etag, cdnMaxAge) };
		} else if (fixed?.policy !== policy || fixed.cdnMaxAge !== cdnMaxAge) {
			fixed = { policy, cdnMaxAge, headers: this.#fixedHeaders(policy, entry, etag, cdnMaxAge) };
			this.#fixed.set(entry, fixed);
		}
		return this.#answer(
			c.req.header("If-None-Match"),
			entry,
			fixed.headers,
			preset,
			body,
			etag,
			cacheStatus(outcomes),
			serverTiming(timings),
		);
	}

	/**
	 * A fresh entry's answer from memory: all its headers, `Cache-Status` and
	 * `Server-Timing` too, are built once per entry and second of freshness
	 * left (a synchronous look-up takes 0 ms by the Workers clock, which
	 * advances only with I/O; any other duration is set on the copy). `body`
	 * false: the answer to a HEAD, without it.
	 */
	memoryHit(
		ifNoneMatch: string | null | undefined,
		policy: CachePolicy,
		entry: Entry,
		now: number,
		preset: Headers | undefined,
		elapsedMs: number,
		body = true,
	): Response {
		const ttl = ttlLeft(entry, now);
		let hit = this.#memoryHits.get(entry);
		if (hit?.policy !== policy || hit.ttl !== ttl) {
			const headers = this.#fixedHeaders(policy, entry, entry.etag, Math.max(0, ttl));
			headers.set("Cache-Status", cacheStatus([{ tier: "memory", kind: "hit", ttl }]));
			headers.set("Server-Timing", serverTiming([["memory", 0]]));
			hit = { policy, ttl, headers };
			this.#memoryHits.set(entry, hit);
		}
		const timing = Math.round(elapsedMs * 100) === 0 ? undefined : serverTiming([["memory", elapsedMs]]);
		return this.#answer(
			ifNoneMatch,
			entry,
			hit.headers,
			preset,
			body ? entry.body : null,
			entry.etag,
			undefined,
			timing,
		);
	}

	/** The response over an entry's prebuilt headers, with the per-request ones set on the copy and `preset` merged. */
	#answer(
		ifNoneMatch: string | null | undefined,
		entry: Entry,
		fixed: Headers,
		preset: Headers | undefined,
		body: string | null,
		etag: string,
		status: string | undefined,
		timing: string | undefined,
	): Response {
		const notModified = entry.status !== 404 && etagMatches(ifNoneMatch ?? undefined, etag);
		// The fixed headers are copied once, by the constructor; the rest is set on the copy.
		const response = notModified
			? new Response(null, { status: 304, headers: fixed })
			: new Response(body, { status: entry.status, headers: fixed });
		const headers = response.headers;
		if (status !== undefined) headers.set("Cache-Status", status);
		if (timing !== undefined) headers.set("Server-Timing", timing);
		if (preset) {
			// The cache's own headers (all set by now) win over any set before.
			for (const [name, value] of preset) if (!headers.has(name)) headers.append(name, value);
		}
		if (notModified) {
			this.#stats.notModified++;
			headers.delete("Content-Type");
		}
		return response;
	}

	/** Every header of the answer but Cache-Status and Server-Timing. */
	#fixedHeaders(policy: CachePolicy, entry: Entry, etag: string, cdnMaxAge: number): Headers {
		const notFound = entry.status === 404;
		const windows = notFound
			? ""
			: `, stale-while-revalidate=${entry.staleWhileRevalidate}, stale-if-error=${entry.staleIfError}`;
		const surrogate = this.#surrogateHeaders(entry);
		return new Headers({
			"Content-Type": "application/json",
			ETag: etag,
			"Cache-Control": `public, max-age=${notFound ? 0 : policy.browserTtl}`,
			"CDN-Cache-Control": `max-age=${cdnMaxAge}${windows}`,
			// Fastly reads Surrogate-Control (not CDN-Cache-Control) before Cache-Control, and strips it.
			"Surrogate-Control": `max-age=${cdnMaxAge}${windows}`,
			"Cloudflare-CDN-Cache-Control": `max-age=${notFound ? cdnMaxAge : Math.max(cdnMaxAge, policy.edgeTtl)}${windows}`,
			"Cache-Tag": surrogate.cacheTag,
			"Surrogate-Key": surrogate.surrogateKey,
		});
	}

	/** An answer no tier may store: `private, no-store`, every tier marked `fwd=bypass`. */
	bypassed(
		c: Context,
		policy: CachePolicy,
		entry: Entry,
		originMs: number,
		view?: (body: unknown) => unknown,
	): Response {
		const body = view && entry.status === 200 ? JSON.stringify(view(JSON.parse(entry.body))) : entry.body;
		return c.body(body, entry.status, {
			"Content-Type": "application/json",
			"Cache-Control": "private, no-store",
			ETag: entry.etag,
			"Cache-Status": cacheStatus(policy.tiers.map((tier) => ({ tier, kind: "bypass" as const }))),
			"Server-Timing": serverTiming([["origin", originMs]]),
		});
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
}
