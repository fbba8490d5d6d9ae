import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { countingKv, storageOps } from "../bench/lib/storage-ops";
import { cacheStatus, testApp } from "./helpers/app";
import { seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

/** The real KV binding, with its reads counted from here on (the benchmark's counter). */
function countedKv() {
	const from = storageOps.kvReads;
	return {
		kv: countingKv(env.CACHE_KV),
		counts: {
			get gets() {
				return storageOps.kvReads - from;
			},
		},
	};
}

describe("reading KV on a memory miss", () => {
	it("only after a Cache API miss at a warm location; together with it for a minute after KV last answered", async () => {
		const { kv, counts } = countedKv();
		const options = { shareKeys: true, kv: () => kv };
		// Location one: a loads product 1 (and writes it to KV on its second request); b is a new isolate there.
		const a = testApp({ ...options, cacheName: "kv-probe-one" });
		const b = testApp({ ...options, cacheName: "kv-probe-one" });
		b.clock.now = a.clock.now;
		await a.request("/v1/products/1");
		expect(counts.gets).toBe(1); // the Cache API missed, then KV
		await a.request("/v1/products/1"); // a memory hit: written to KV now
		const atB = await b.request("/v1/products/1");
		expect(cacheStatus(atB)).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(1); // a Cache API hit: KV not read
		expect(atB.headers.get("Server-Timing")).not.toMatch(/kv;/);

		// Location two: c finds product 1 in KV, so for a minute its memory misses read both at once.
		const c = testApp({ ...options, cacheName: "kv-probe-two" });
		c.clock.now = a.clock.now;
		expect(cacheStatus(await c.request("/v1/products/1"))).toMatch(/tiercache-kv; hit/);
		expect(counts.gets).toBe(2);
		await c.request("/v1/products/2"); // loaded: in c's memory and location two's Cache API
		expect(counts.gets).toBe(3);
		c.cache.memory.clear();
		expect(cacheStatus(await c.request("/v1/products/2"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(4); // read together with the Cache API
		c.cache.memory.clear();
		c.advance(60_000);
		expect(cacheStatus(await c.request("/v1/products/2"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(4); // a minute on: the Cache API first again

		// Location three: KV returns product 1, but invalidated since. That is no answer: the Cache API stays first.
		await a.cache.invalidateTags(env, ["product:1"]);
		const d = testApp({ ...options, cacheName: "kv-probe-three" });
		d.clock.now = a.clock.now;
		expect(cacheStatus(await d.request("/v1/products/1"))).toMatch(/tiercache-kv; fwd=miss; detail=invalidated/);
		expect(counts.gets).toBe(5);
		d.cache.memory.clear();
		expect(cacheStatus(await d.request("/v1/products/1"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(5);
	});
});
