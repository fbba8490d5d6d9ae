import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SEQ_SQL } from "../packages/tiercache/src/seq-sql";
import { cacheStatus, testApp } from "./helpers/app";
import { cacheWithHangingEntryReads, failingD1, hangingKvReads, stallingD1 } from "./helpers/faults";
import { seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

/** Whether a promise settles within `ms` of real time (a read that hangs never does). */
async function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<T | "hung"> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const hung = new Promise<"hung">((resolve) => {
		timer = setTimeout(resolve, ms, "hung");
	});
	try {
		return await Promise.race([promise, hung]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

describe("a tier that stops answering holds a read at most tierTimeoutMs", () => {
	it("KV: the read goes on to the origin, marked detail=timeout and counted", async () => {
		const a = testApp({ kv: () => hangingKvReads(env.CACHE_KV), kvProbe: false, tierTimeoutMs: 50 });
		const res = await settlesWithin(a.request("/v1/products/1"), 3_000);
		expect(res).not.toBe("hung");
		const first = res as Response;
		expect(first.status).toBe(200);
		expect(((await first.json()) as { data: { id: number } }).data.id).toBe(1);
		expect(cacheStatus(first)).toMatch(
			/^tiercache-kv; fwd=miss; detail=timeout, tiercache-colo; fwd=miss; stored, tiercache-memory; fwd=miss; stored$/,
		);
		const kv = a.cache.stats.tiers.kv;
		expect(kv).toMatchObject({ timeouts: 1, errors: 1, misses: 1 });
		expect(a.cache.stats.origin.loads).toBe(1);
		// What was loaded is served from memory: KV is not asked again.
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.tiers.kv.timeouts).toBe(1);
	});

	it("the Cache API: the read goes on to KV and the origin", async () => {
		const a = testApp({ openCache: cacheWithHangingEntryReads, tierTimeoutMs: 50 });
		const res = await settlesWithin(a.request("/v1/products/2"), 3_000);
		expect(res).not.toBe("hung");
		const first = res as Response;
		expect(first.status).toBe(200);
		expect(cacheStatus(first)).toMatch(/tiercache-colo; fwd=miss; detail=timeout; stored, tiercache-memory; fwd=miss/);
		expect(a.cache.stats.tiers.colo).toMatchObject({ timeouts: 1, errors: 1 });
		expect(a.cache.stats.tiers.kv.timeouts).toBe(0);
		expect(cacheStatus(await a.request("/v1/products/2"))).toMatch(/^tiercache-memory; hit/);
	});

	it.each([
		["hangs", stallingD1, "timeout", { errors: 1, timeouts: 1, hits: 0 }],
		["fails", failingD1, "error", { errors: 1, timeouts: 0, hits: 0 }],
	] as const)(
		"the D1 look-up that checks an entry another location stored %s: that entry is a miss, never served unchecked",
		async (fault, faulty, detail, kvCounters) => {
			const writer = testApp({ shareKeys: true, cacheName: `lookup-${fault}-writer` });
			await writer.request("/v1/categories/garden");
			await writer.request("/v1/categories/garden"); // its second request: stored in KV
			await writer.cache.invalidateTags(env, [`unrelated:lookup-${fault}`]);
			// Without the fault, a new isolate there would serve it from KV after one look-up (see invalidation-seqs).
			// A new isolate at another location, whose view starts after the entry was read, and whose look-ups hang or fail.
			const reader = testApp({
				shareKeys: true,
				cacheName: `lookup-${fault}-reader`,
				database: (e) => faulty(e.DB, (sql) => sql === SEQ_SQL.lookup),
				tierTimeoutMs: 50,
			});
			const res = await settlesWithin(reader.request("/v1/categories/garden"), 3_000);
			expect(res).not.toBe("hung");
			const first = res as Response;
			expect(first.status).toBe(200);
			expect(cacheStatus(first)).toMatch(new RegExp(`^tiercache-kv; fwd=miss; detail=${detail}, `));
			expect(reader.cache.clock.counters.tagLookups).toBe(1);
			expect(reader.cache.stats.tiers.kv).toMatchObject(kvCounters);
			expect(reader.cache.stats.origin.loads).toBe(1);
			// The same read at a third location, whose look-ups answer, is served from KV.
			const control = testApp({ shareKeys: true, cacheName: `lookup-${fault}-control`, tierTimeoutMs: 50 });
			expect(cacheStatus(await control.request("/v1/categories/garden"))).toMatch(/^tiercache-kv; hit/);
		},
	);

	it("after a failed load, the KV read that the gate had skipped: 503, not a request that hangs", async () => {
		const a = testApp({
			kv: () => hangingKvReads(env.CACHE_KV),
			kvProbe: { minHitRate: 0.2, sampleEvery: 4 },
			originTimeoutMs: 100,
			tierTimeoutMs: 50,
		});
		// Eight reads that KV did not answer in time back the gate off.
		for (let id = 500; id < 508; id++) await a.request(`/v1/products/${id}`);
		expect(a.cache.stats.tiers.kv.timeouts).toBe(8);
		const res = await settlesWithin(
			a.request("/v1/products/3", {}, { ENVIRONMENT: "development", ORIGIN_DELAY_MS: "300" }),
			3_000,
		);
		expect(res).not.toBe("hung");
		const failed = res as Response;
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(1);
		expect(failed.status).toBe(503);
		expect(await failed.json()).toMatchObject({ error: { code: "origin_unavailable" } });
		expect(a.cache.stats.tiers.kv.timeouts).toBe(9); // asked after all, and timed out too
		expect(a.cache.stats.served.unavailable).toBe(1);
	});

	it("rejects a tierTimeoutMs that is not a positive number of milliseconds", () => {
		for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, "100" as unknown as number]) {
			expect(() => testApp({ tierTimeoutMs: bad })).toThrow(/tierTimeoutMs must be a positive number of milliseconds/);
		}
		expect(() => testApp({ tierTimeoutMs: 250 })).not.toThrow();
	});
});
