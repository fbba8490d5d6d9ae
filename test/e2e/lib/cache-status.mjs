import { parseList } from "structured-headers";

/**
 * An RFC 9211 Cache-Status value parsed as an RFC 9651 list (throws when it is
 * not one): [{name, params: {hit: true, ttl: -3, detail: "stale-if-error", …}}].
 */
export function cacheStatusMembers(value) {
	if (!value) return [];
	return parseList(value).map(([item, params]) => ({
		name: String(item),
		params: Object.fromEntries([...params].map(([k, v]) => [k, typeof v === "object" ? String(v) : v])),
	}));
}

/** The last member (the cache nearest the client) or undefined. */
export function lastMember(value) {
	return cacheStatusMembers(value).at(-1);
}
