/**
 * Builds cache keys from what the route validated — never from the raw URL,
 * the Host header or any other request header — so two requests that the
 * route treats the same share a key, and nothing outside the key can change
 * the answer.
 */
export interface KeyParts {
	version: string;
	route: string;
	params: Record<string, unknown>;
	query: Record<string, unknown>;
	keyQuery?: readonly string[];
}

function canonical(record: Record<string, unknown>, only?: readonly string[]): string {
	return Object.keys(record)
		.filter((name) => record[name] !== undefined && (only === undefined || only.includes(name)))
		.sort()
		.map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(String(record[name]))}`)
		.join("&");
}

/** `<version>/<route>?p.<param>=…&q.<query>=…`, sorted, percent-encoded. */
export function buildKey(parts: KeyParts): string {
	const params = canonical(parts.params);
	const query = canonical(parts.query, parts.keyQuery);
	const search = [params && `p.${params.replaceAll("&", "&p.")}`, query && `q.${query.replaceAll("&", "&q.")}`]
		.filter(Boolean)
		.join("&");
	return `${encodeURIComponent(parts.version)}/${parts.route}${search ? `?${search}` : ""}`;
}
