import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

const json = async (res: Response) =>
	(await res.json()) as { data: { stock: number; name: string; updatedAt: string } };

async function counter(): Promise<number> {
	const row = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
	return Number(row?.value);
}

async function kvSeqKeys(): Promise<string[]> {
	return (await env.CACHE_KV.list({ prefix: "seq:" })).keys.map((k) => k.name);
}

describe("invalidateTags", () => {
	it("bumps the tags in D1 in one transaction and publishes nothing to KV (D1 is the clock)", async () => {
		const a = testApp();
		const before = await counter();
		const seq = await a.cache.invalidateTags(env, ["product:1", "category:1", "product:1"]);
		expect(seq).toBe(before + 1);
		expect(await counter()).toBe(seq);
		const rows = await env.DB.prepare(
			"SELECT tag, seq FROM cache_tag_seq WHERE tag IN ('product:1', 'category:1') ORDER BY tag",
		).all();
		expect(rows.results).toEqual([
			{ tag: "category:1", seq },
			{ tag: "product:1", seq },
		]);
		expect(await kvSeqKeys()).toEqual([]);
	});

	it("records invalidations in a burst without waiting, each visible to another isolate's next view", async () => {
		const a = testApp({ shareKeys: true });
		const reader = testApp({ shareKeys: true });
		await reader.request("/v1/categories/garden"); // the reader has a view now
		const first = await a.cache.invalidateTags(env, ["burst:1"]);
		const second = await a.cache.invalidateTags(env, ["burst:2"]);
		const third = await a.cache.invalidateTags(env, ["burst:3"]);
		expect([second, third]).toEqual([first + 1, first + 2]);
		reader.advance(1000);
		await reader.request("/v1/categories/garden");
		expect(reader.cache.clock.view.counter).toBeGreaterThanOrEqual(third);
		expect(reader.cache.clock.view.validity(first, ["burst:3"])).toBe(false);
		expect(reader.cache.clock.view.validity(third, ["burst:1", "burst:2", "burst:3"])).toBe(true);
	});

	it("makes this isolate's next read fresh: a write then an invalidation is never served stale", async () => {
		const a = testApp();
		expect((await json(await a.request("/v1/products/3"))).data.stock).toBe(0);
		expect(cacheStatus(await a.request("/v1/products/3"))).toMatch(/memory; hit/);
		await env.DB.prepare("UPDATE products SET stock = 41 WHERE id = 3").run();
		await a.cache.invalidateTags(env, ["product:3"]);
		const after = await a.request("/v1/products/3");
		expect(cacheStatus(after)).toMatch(
			// KV takes the reloaded entry on its next request, as any first load.
			/^tiercache-kv; fwd=miss; detail=invalidated, .*tiercache-memory; fwd=miss; detail=invalidated; stored$/,
		);
		expect((await json(after)).data.stock).toBe(41);
		expect(a.cache.stats.tiers.memory.invalidated).toBe(1);
	});

	it("leaves entries whose tags were not touched valid", async () => {
		const a = testApp();
		await a.request("/v1/categories/garden");
		await a.cache.invalidateTags(env, ["product:999"]);
		expect(cacheStatus(await a.request("/v1/categories/garden"))).toMatch(/^tiercache-memory; hit/);
	});

	it("validates entries read inside the view's coverage from memory: no D1 read per request", async () => {
		const a = testApp();
		await a.request("/v1/categories/kitchen");
		await a.cache.invalidateTags(env, ["unrelated:2"]); // the entry is now older than the counter
		const { d1Reads, tagLookups } = a.cache.clock.counters;
		for (let i = 0; i < 5; i++) {
			a.advance(50);
			expect(cacheStatus(await a.request("/v1/categories/kitchen"))).toMatch(/memory; hit/);
		}
		expect(a.cache.clock.counters.d1Reads).toBe(d1Reads);
		expect(a.cache.clock.counters.tagLookups).toBe(tagLookups);
	});

	it("reaches another isolate within a second: no entry is validated against a view older than that", async () => {
		const writer = testApp({ shareKeys: true });
		const reader = testApp({ shareKeys: true });
		await reader.request("/v1/products/2");
		await reader.request("/v1/products/2"); // a hit against the reader's view
		await env.DB.prepare("UPDATE products SET name = 'Chef knife v2' WHERE id = 2").run();
		await writer.cache.invalidateTags(env, ["product:2"]);
		// Inside the view's first half second the reader may still answer from memory…
		expect((await json(await reader.request("/v1/products/2"))).data.name).toBe("Chef knife");
		// …and not once the view would be a second old.
		reader.advance(1000);
		const res = await reader.request("/v1/products/2");
		expect((await json(res)).data.name).toBe("Chef knife v2");
		expect(cacheStatus(res)).toMatch(/memory; fwd=miss; detail=invalidated/);
		expect(res.headers.get("Server-Timing")).toMatch(/(^|, )clock;dur=/);
	});

	it("looks up an entry older than the view's coverage once (one batch), then validates it from memory", async () => {
		const writer = testApp({ shareKeys: true, cacheName: "coverage-writer" });
		await writer.request("/v1/categories/garden"); // stored in KV, read at the current counter
		await writer.cache.invalidateTags(env, ["unrelated:coverage"]);
		// A new isolate at another location: its view starts after the entry was read.
		const reader = testApp({ shareKeys: true, cacheName: "coverage-reader" });
		expect(cacheStatus(await reader.request("/v1/categories/garden"))).toMatch(/kv; hit/);
		expect(reader.cache.clock.counters.tagLookups).toBe(1);
		expect(cacheStatus(await reader.request("/v1/categories/garden"))).toMatch(/memory; hit/);
		expect(reader.cache.clock.counters.tagLookups).toBe(1);
		// The looked-up seqs stay true as the view moves on: a later bump of its tag is still seen.
		await writer.cache.invalidateTags(env, ["category:2"]);
		reader.advance(1000);
		expect(cacheStatus(await reader.request("/v1/categories/garden"))).toMatch(/memory; fwd=miss; detail=invalidated/);
	});

	it("turns a change too large for one view refresh into a floor: nothing read before it is trusted", async () => {
		const reader = testApp({ clock: { deltaLimit: 3 } });
		await reader.request("/v1/categories");
		await reader.request("/v1/categories/garden");
		await env.DB.prepare(
			"INSERT INTO cache_tag_seq (tag, seq) SELECT 'bulk:' || value, (SELECT value FROM cache_seq) + 1 FROM json_each('[1,2,3,4]') WHERE true " +
				"ON CONFLICT(tag) DO UPDATE SET seq = excluded.seq",
		).run();
		await env.DB.prepare("UPDATE cache_seq SET value = value + 1 WHERE id = 1").run();
		reader.advance(1000);
		expect(cacheStatus(await reader.request("/v1/categories"))).toMatch(/memory; fwd=miss; detail=invalidated/);
		expect(reader.cache.clock.counters.floors).toBe(1);
		expect(reader.cache.clock.view.floor).toBe(await counter());
	});

	it("trusts nothing a new isolate cannot check: an entry bumped before the isolate started is rejected", async () => {
		const a = testApp({ shareKeys: true, cacheName: "cold-a" });
		await a.request("/v1/categories/kitchen");
		await a.request("/v1/categories/kitchen"); // in KV (taken on the second request)
		await env.DB.prepare("UPDATE categories SET name = 'Kitchen & dining' WHERE slug = 'kitchen'").run();
		const b = testApp({ shareKeys: true, cacheName: "cold-b" });
		const res = await b.request("/v1/categories/kitchen");
		expect(cacheStatus(res)).toMatch(/kv; fwd=miss; detail=invalidated/);
		expect(((await res.json()) as { data: { name: string } }).data.name).toBe("Kitchen & dining");
	});
});

describe("entries that raced with a write (stale sets)", () => {
	it("are rejected: a fill that read before an invalidation is never served after it", async () => {
		const a = testApp();
		// The fill reads product 1 (and cache_seq) but is stored only after a
		// write and its invalidation committed: its readSeq is older.
		await env.DB.prepare("UPDATE products SET stock = 10 WHERE id = 1").run();
		const seqBefore = await counter();
		await a.cache.invalidateTags(env, ["warmup:1"]);
		expect((await json(await a.request("/v1/products/1"))).data.stock).toBe(10);
		// The entry as a fill that read at seqBefore, and was stored late, would hold it.
		const [key] = [...a.cache.memory.keys()];
		const entry = a.cache.memory.get(key as string);
		if (!entry) throw new Error("expected an entry in memory");
		a.cache.memory.set(key as string, { ...entry, readSeq: seqBefore });
		await env.DB.prepare("UPDATE products SET stock = 11 WHERE id = 1").run();
		await a.cache.invalidateTags(env, ["product:1"]);
		const res = await a.request("/v1/products/1");
		expect((await json(res)).data.stock).toBe(11);
	});
});

describe("admin writes invalidate what they change", () => {
	it("PATCH a product: the next read of the product and of listings is fresh", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		await a.request("/v1/products?category=kitchen");
		const patch = await a.request("/v1/products/1", {
			method: "PATCH",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ name: "Cast iron skillet" }),
		});
		expect(patch.status).toBe(200);
		expect((await json(await a.request("/v1/products/1"))).data.name).toBe("Cast iron skillet");
		const list = (await (await a.request("/v1/products?category=kitchen")).json()) as { data: { name: string }[] };
		expect(list.data.map((p) => p.name)).toContain("Cast iron skillet");
	});

	it("POST a review: the product's rating and its reviews are fresh", async () => {
		const a = testApp();
		await a.request("/v1/products/2");
		await a.request("/v1/products/2/reviews");
		const res = await a.request("/v1/products/2/reviews", {
			method: "POST",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ rating: 4, title: "Sharp" }),
		});
		expect(res.status).toBe(201);
		const product = (await (await a.request("/v1/products/2")).json()) as { data: { rating: { count: number } } };
		expect(product.data.rating.count).toBeGreaterThanOrEqual(1);
		const reviews = (await (await a.request("/v1/products/2/reviews")).json()) as { data: { title: string }[] };
		expect(reviews.data[0]?.title).toBe("Sharp");
	});

	it("POST a product makes a cached 404 for its id visible", async () => {
		const a = testApp();
		const missing = await a.request("/v1/products/50");
		expect(missing.status).toBe(404);
		expect(cacheStatus(await a.request("/v1/products/50"))).toMatch(/memory; hit/);
		await env.DB.prepare("DELETE FROM sqlite_sequence WHERE name = 'products'").run();
		await env.DB.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('products', 49)").run();
		const created = await a.request("/v1/products", {
			method: "POST",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ sku: "N-50", name: "Fifty", priceCents: 50, categoryId: 1 }),
		});
		expect(await created.json()).toMatchObject({ data: { id: 50 } });
		expect((await a.request("/v1/products/50")).status).toBe(200);
	});
});
