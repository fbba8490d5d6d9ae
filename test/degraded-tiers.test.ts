import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { downKv } from "./helpers/faults";
import { seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

describe("a failing tier degrades to the next one and never fails a read", () => {
	it("KV down: reads are answered from D1 and counted as KV errors", async () => {
		const a = testApp({ kv: () => downKv });
		const first = await a.request("/v1/products/1");
		expect(first.status).toBe(200);
		expect(cacheStatus(first)).toMatch(/^tiercache-kv; fwd=miss; detail=error, /);
		expect(a.cache.stats.tiers.kv.errors).toBe(1); // the read
		// Validity comes from the clock in D1, not from KV: the memory entry is still checked and served.
		const second = await a.request("/v1/products/1");
		expect(second.status).toBe(200);
		expect(cacheStatus(second)).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.tiers.kv.errors).toBe(2); // and the write the second request admits
		expect(a.cache.stats.origin.loads).toBe(1);
	});

	it("KV down during an invalidation: the bump is committed in D1 and this isolate is fresh", async () => {
		const a = testApp({ kv: () => downKv });
		await a.request("/v1/products/2");
		const before = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
		const seq = await a.cache.invalidateTags(env, ["product:2"]);
		expect(seq).toBe(Number(before?.value) + 1);
		expect(cacheStatus(await a.request("/v1/products/2"))).toMatch(/memory; fwd=miss; detail=invalidated/);
		expect(a.cache.stats.purges.enqueueErrors).toBe(0);
	});

	it("Cache API down: reads go on to KV and D1", async () => {
		const a = testApp({ openCache: () => Promise.reject(new Error("cache unavailable")) });
		const res = await a.request("/v1/products/3");
		expect(res.status).toBe(200);
		expect(cacheStatus(res)).toMatch(/tiercache-colo; fwd=miss; detail=error/);
		expect(cacheStatus(await a.request("/v1/products/3"))).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.tiers.colo.errors).toBeGreaterThanOrEqual(2);
	});
});
