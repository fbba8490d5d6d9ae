import { type SQL, sql } from "drizzle-orm";

/** D1 statements of the invalidation counter, the tags' seqs and the floor. */
export const SEQ_SQL = {
	read: "SELECT value FROM cache_seq WHERE id = 1",
	bump: "UPDATE cache_seq SET value = value + 1 WHERE id = 1",
	readTags: "SELECT tag, seq, handled_seq FROM cache_tag_seq WHERE tag IN (SELECT value FROM json_each(?1))",
	// The clock: bumps after a seq, on the index of cache_tag_seq.seq.
	since: "SELECT tag, seq FROM cache_tag_seq WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	lookup: "SELECT tag, seq FROM cache_tag_seq WHERE tag IN (SELECT value FROM json_each(?1))",
	unhandled: "SELECT tag, seq FROM cache_tag_seq WHERE seq > handled_seq ORDER BY seq LIMIT ?1",
	// Marks [tag, seq] pairs handled, unless the tag was bumped again meanwhile.
	markHandled:
		"UPDATE cache_tag_seq SET handled_seq = seq WHERE handled_seq < seq AND EXISTS (SELECT 1 FROM json_each(?1) AS j " +
		"WHERE json_extract(j.value, '$[0]') = cache_tag_seq.tag AND json_extract(j.value, '$[1]') = cache_tag_seq.seq)",
	markAllHandled: "UPDATE cache_tag_seq SET handled_seq = seq WHERE seq > handled_seq AND seq <= ?1",
	setFloor:
		"UPDATE cache_state SET value = max(value, (SELECT value FROM cache_seq WHERE id = 1)) WHERE name = 'floor'",
	readFloor: "SELECT value FROM cache_state WHERE name = 'floor'",
	// All tags of one invalidation get the same new value of the counter.
	setTags:
		"INSERT INTO cache_tag_seq (tag, seq) SELECT j.value, (SELECT value FROM cache_seq WHERE id = 1) FROM json_each(?1) AS j WHERE true " +
		"ON CONFLICT(tag) DO UPDATE SET seq = excluded.seq",
} as const;

/** The counter's value from a result row; a missing row means the engine's migrations were not applied. */
export function counterValue(row: { value: number } | undefined | null): number {
	const seq = Number(row?.value);
	if (row == null || !Number.isSafeInteger(seq)) throw new Error("cache_seq is missing: apply the engine's migrations");
	return seq;
}

/**
 * One of these statements with its `?N` parameters written in as literals,
 * for a drizzle batch (drizzle's D1 batch cannot bind the parameters of raw
 * SQL). Only safe integers and strings: a string becomes a SQLite string
 * literal, whose only escape is a doubled quote.
 */
export function inlineSql(text: string, ...params: (number | string)[]): SQL {
	return sql.raw(
		text.replace(/\?(\d+)/g, (_, n: string) => {
			const value = params[Number(n) - 1];
			if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
			if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
			throw new TypeError(`parameter ?${n} of "${text}" is not a safe integer or a string`);
		}),
	);
}
