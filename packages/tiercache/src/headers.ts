import type { TierName } from "./policy.js";

/** Cloudflare's limit on the aggregate Cache-Tag header (bytes). */
export const CACHE_TAG_HEADER_LIMIT = 16 * 1024;

/**
 * The coarser tag that stands for a tag when a response's tags do not fit the
 * Cache-Tag header: the tag without its last `:` segment (`product:42` →
 * `product`). Edge purges send both (see `edgePurgeTags`), so coarsening
 * never leaves an edge copy that a purge cannot reach.
 */
export function coarseTag(tag: string): string {
	const at = tag.lastIndexOf(":");
	return at > 0 ? tag.slice(0, at) : tag;
}

/** The tags to put in Cache-Tag / Surrogate-Key: all of them, or coarser ones when they would not fit. */
export function edgeTags(
	tags: readonly string[],
	limit = CACHE_TAG_HEADER_LIMIT,
): { tags: string[]; coarsened: boolean } {
	const unique = [...new Set(tags)];
	if (unique.join(",").length <= limit) return { tags: unique, coarsened: false };
	let coarse = [...new Set(unique.map(coarseTag))];
	while (coarse.join(",").length > limit) {
		const next = [...new Set(coarse.map(coarseTag))];
		if (next.length === coarse.length) {
			coarse = [CATCH_ALL_TAG];
			break;
		}
		coarse = next;
	}
	return { tags: coarse, coarsened: true };
}

/** The tag of responses whose tags did not fit even in their coarsest forms. */
export const CATCH_ALL_TAG = "tiercache:all";

/** What an edge purge sends for invalidated tags: each tag, its coarser forms, and the catch-all. */
export function edgePurgeTags(tags: readonly string[]): string[] {
	const out = new Set<string>();
	for (const tag of tags) {
		out.add(tag);
		for (let t = coarseTag(tag); !out.has(t); t = coarseTag(t)) out.add(t);
	}
	if (out.size > 0) out.add(CATCH_ALL_TAG);
	return [...out];
}

export type TierOutcome =
	| {
			tier: TierName;
			kind: "hit";
			ttl: number;
			detail?: "stale-while-revalidate" | "stale-if-error" | "invalidated" | "clock-unavailable";
	  }
	| { tier: TierName; kind: "miss" | "stale" | "invalid" | "error" | "timeout" | "skipped"; stored: boolean }
	| { tier: TierName; kind: "bypass" };

/**
 * RFC 9211 Cache-Status. Members are listed from the cache nearest the origin
 * (kv) to the one nearest the user (memory).
 */
export function cacheStatus(outcomes: readonly TierOutcome[]): string {
	let out = "";
	for (let i = outcomes.length - 1; i >= 0; i--) {
		const o = outcomes[i] as TierOutcome;
		const name = `tiercache-${o.tier}`;
		let member: string;
		switch (o.kind) {
			case "hit":
				member = `${name}; hit; ttl=${o.ttl}${o.detail ? `; detail=${o.detail}` : ""}`;
				break;
			case "bypass":
				member = `${name}; fwd=bypass`;
				break;
			case "miss":
				member = `${name}; fwd=miss${o.stored ? "; stored" : ""}`;
				break;
			case "stale":
				member = `${name}; fwd=stale${o.stored ? "; stored" : ""}`;
				break;
			case "invalid":
				member = `${name}; fwd=miss; detail=invalidated${o.stored ? "; stored" : ""}`;
				break;
			case "skipped":
				member = `${name}; fwd=miss; detail=skipped${o.stored ? "; stored" : ""}`;
				break;
			case "timeout":
				member = `${name}; fwd=miss; detail=timeout${o.stored ? "; stored" : ""}`;
				break;
			default:
				member = `${name}; fwd=miss; detail=error${o.stored ? "; stored" : ""}`;
		}
		out = out ? `${out}, ${member}` : member;
	}
	return out;
}

/** Server-Timing: one entry per tier consulted and one for the origin. */
export function serverTiming(timings: readonly [string, number][]): string {
	return timings.map(([name, ms]) => `${name};dur=${Math.round(ms * 100) / 100}`).join(", ");
}

/** RFC 9110 If-None-Match, weak comparison. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
	if (!ifNoneMatch) return false;
	if (ifNoneMatch.trim() === "*") return true;
	const bare = etag.replace(/^W\//, "");
	return ifNoneMatch.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === bare);
}
