import type { ClockIncrement } from "./clock-view.js";
import type { ClockDelta, ClockHead, ClockLease, ClockSource } from "./invalidation-clock.js";
import { counterValue, SEQ_SQL } from "./seq-sql.js";

/** The shared view lives under a host no request can name, apart from the entries' keys. */
const SHARED_VIEW_URL = "https://clock.tiercache.invalid/view";
const LEASE_URL = "https://clock.tiercache.invalid/lease";
const HEAD_URL = "https://clock.tiercache.invalid/head";

/** How long the Cache API keeps the shared view: a base for isolates that start later. */
const SHARED_VIEW_SECONDS = 300;

/**
 * The clock read from D1 (one batch per read: one snapshot) and shared
 * through this location's Cache API.
 */
export function clockSource(d1: D1Database, openCache: () => Promise<Cache>): ClockSource {
	return {
		async readDelta(after, limit) {
			return parseDelta(await d1.batch(deltaStatements(d1, after, limit)));
		},
		async lookupTags(tags) {
			const [rows, counter] = await d1.batch<{ tag: string; seq: number; value: number }>([
				d1.prepare(SEQ_SQL.lookup).bind(JSON.stringify(tags)),
				d1.prepare(SEQ_SQL.read),
			]);
			return {
				rows: (rows?.results ?? []).map((r) => [r.tag, Number(r.seq)] as [string, number]),
				counter: counterValue(counter?.results[0]),
			};
		},
		readShared: () => readJson(openCache, SHARED_VIEW_URL),
		writeShared: (increment: ClockIncrement) => writeJson(openCache, SHARED_VIEW_URL, increment, SHARED_VIEW_SECONDS),
		readLease: () => readJson(openCache, LEASE_URL),
		writeLease: (lease: ClockLease) => writeJson(openCache, LEASE_URL, lease, 60),
		readHead: () => readJson(openCache, HEAD_URL),
		writeHead: (head: ClockHead) => writeJson(openCache, HEAD_URL, head, 60),
	};
}

/**
 * The statements of a clock read (the counter, the floor, and the bumps above
 * `after`, at most `limit + 1`): one D1 batch, or the end of a write's own.
 */
export function deltaStatements(d1: D1Database, after: number | undefined, limit: number): D1PreparedStatement[] {
	return deltaQueries(after, limit).map(([text, ...params]) => d1.prepare(text).bind(...params));
}

/** `deltaStatements` as SQL text and parameters, for a batch of another kind (a write's drizzle batch). */
export function deltaQueries(after: number | undefined, limit: number): [string, ...number[]][] {
	const head: [string, ...number[]][] = [[SEQ_SQL.read], [SEQ_SQL.readFloor]];
	return after === undefined ? head : [...head, [SEQ_SQL.since, after, limit + 1]];
}

/** The results of `deltaStatements`, in order. */
export function parseDelta(results: D1Result[]): ClockDelta {
	const rows = (results[2]?.results ?? []) as { tag: string; seq: number }[];
	return {
		counter: counterValue(results[0]?.results[0] as { value: number } | undefined),
		floor: Number((results[1]?.results[0] as { value?: number } | undefined)?.value ?? 0),
		rows: rows.map((r) => [r.tag, Number(r.seq)] as [string, number]),
	};
}

async function readJson(openCache: () => Promise<Cache>, url: string): Promise<unknown> {
	const response = await (await openCache()).match(url);
	return response ? await response.json() : undefined;
}

async function writeJson(openCache: () => Promise<Cache>, url: string, value: unknown, seconds: number): Promise<void> {
	await (await openCache()).put(
		url,
		new Response(JSON.stringify(value), {
			headers: { "Content-Type": "application/json", "Cache-Control": `public, max-age=${seconds}` },
		}),
	);
}
