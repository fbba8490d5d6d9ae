/** One cached answer, as every tier stores it. */
export interface Entry {
	status: 200 | 404;
	/** The JSON body, serialised once at fill time. */
	body: string;
	etag: string;
	tags: string[];
	/** The tags whose bumps invalidate the entry, when not all of `tags` (see `Loaded.validateBy`). */
	validateBy?: string[];
	/** `cache_seq` read in the same D1 batch as the data. */
	readSeq: number;
	/** When the origin answered (ms since the epoch). */
	storedAt: number;
	/** Fresh for this many seconds from `storedAt`. */
	ttl: number;
	staleWhileRevalidate: number;
	staleIfError: number;
	/** How long the origin load took (ms), for early refresh. */
	loadMs: number;
}

/**
 * A strong ETag: a 64-bit hash of the body (two 32-bit multiply-xor lanes,
 * mixed), 16 hex digits. Not a cryptographic digest, and it need not be: the
 * body is the origin's, and a validator only has to change when the body
 * does (a chance of 2^-64 per change that it does not). Synchronous and
 * about a tenth of what SHA-256 through `crypto.subtle` cost per load.
 */
export function etagOf(body: string): string {
	let h1 = 0xdeadbeef ^ body.length;
	let h2 = 0x41c6ce57 ^ body.length;
	for (let i = 0; i < body.length; i++) {
		const ch = body.charCodeAt(i);
		h1 = Math.imul(h1 ^ ch, 2654435761);
		h2 = Math.imul(h2 ^ ch, 1597334677);
	}
	h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
	h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
	return `"${hex32(h2)}${hex32(h1)}"`;
}

const hex32 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** Seconds of freshness left (negative once stale). */
export function ttlLeft(entry: Entry, now: number): number {
	return Math.floor((entry.storedAt + entry.ttl * 1000 - now) / 1000);
}

export function isFresh(entry: Entry, now: number): boolean {
	return now < entry.storedAt + entry.ttl * 1000;
}

export function inStaleWhileRevalidate(entry: Entry, now: number): boolean {
	return now < entry.storedAt + (entry.ttl + entry.staleWhileRevalidate) * 1000;
}

export function inStaleIfError(entry: Entry, now: number): boolean {
	return now < entry.storedAt + (entry.ttl + entry.staleIfError) * 1000;
}

/** Seconds a store should keep the entry: long enough for its stale windows. */
export function retentionSeconds(entry: Entry): number {
	return entry.ttl + Math.max(entry.staleWhileRevalidate, entry.staleIfError);
}

/** Approximate bytes an entry holds in memory (UTF-16 strings). */
export function entryBytes(key: string, entry: Entry): number {
	let bytes = 2 * (key.length + entry.body.length + entry.etag.length) + 96;
	for (const tag of entry.tags) bytes += 2 * tag.length + 16;
	for (const tag of entry.validateBy ?? []) bytes += 2 * tag.length + 16;
	return bytes;
}

const STATUSES = new Set([200, 404]);

/** Checks a value read back from a store; anything malformed is a miss, never an error. */
export function parseEntry(value: unknown): Entry | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const e = value as Record<string, unknown>;
	const numbers = ["readSeq", "storedAt", "ttl", "staleWhileRevalidate", "staleIfError", "loadMs"];
	if (!STATUSES.has(e.status as number) || typeof e.body !== "string" || typeof e.etag !== "string") return undefined;
	if (!Array.isArray(e.tags) || !e.tags.every((t) => typeof t === "string")) return undefined;
	if (e.validateBy !== undefined && !validateByOf(e.tags as string[], e.validateBy)) return undefined;
	if (!numbers.every((n) => typeof e[n] === "number" && Number.isFinite(e[n]))) return undefined;
	return value as Entry;
}

/** The tags whose bumps invalidate an entry: `validateBy` when it has one, else all its tags. */
export function validationTags(entry: Entry): readonly string[] {
	return entry.validateBy ?? entry.tags;
}

/** A `validateBy` that is a list of strings, each one of `tags` (anything else: the entry is a miss). */
function validateByOf(tags: readonly string[], value: unknown): value is string[] {
	return Array.isArray(value) && value.every((t) => typeof t === "string" && tags.includes(t));
}
