import type { Context } from "hono";
import type { TierOutcome } from "./headers.js";
import type { CacheStats } from "./stats.js";

export type LoadCause = keyof CacheStats["origin"]["byCause"];

/** Why the tiers could not answer: an invalidated entry, an expired one, one evicted from memory, or none at all. */
export function loadCause(outcomes: readonly TierOutcome[], evicted: boolean): LoadCause {
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
export function keyInputs(c: Context): { params: Record<string, unknown>; query: Record<string, unknown> } {
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
 * Returns `undefined` for those; otherwise the headers set so far, which the
 * cached answer carries too. Headers set with `c.header()` before there is a
 * response are read on a probe response (`c.newResponse`): reading `c.res`
 * instead would make Hono create a response now and copy it twice more when
 * the real one is set.
 */
export function cacheableRequest(c: Context): Headers | undefined {
	const method = c.req.method;
	if (method !== "GET" && method !== "HEAD") return undefined;
	if (c.req.header("Authorization") !== undefined || c.req.header("Cookie") !== undefined) return undefined;
	const preset = c.finalized ? c.res.headers : c.newResponse(null).headers;
	if (preset.has("Set-Cookie") || /\b(private|no-store)\b/i.test(preset.get("Cache-Control") ?? "")) return undefined;
	return preset;
}
