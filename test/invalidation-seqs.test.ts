import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SEQ_KEYS, tagSeqKey } from "../src/cache/tag-seqs";
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

describe("invalidateTags", () => {
	it("bumps the tags in D1 and publishes them to KV, tags before the maximum", async () => {
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
		expect(await env.CACHE_KV.get(await tagSeqKey("product:1"))).toBe(String(seq));
		expect(await env.CACHE_KV.get(await tagSeqKey("category:1"))).toBe(String(seq));
		expect(await env.CACHE_KV.get(SEQ_KEYS.max)).toBe(String(seq));
	});

	it("publishes every invalidation: a second one within a second waits, then writes the newest value", async () => {
		const a = testApp();
		const first = await a.cache.invalidateTags(env, ["burst:1"]);
		const second = await a.cache.invalidateTags(env, ["burst:2"]);
		const third = await a.cache.invalidateTags(env, ["burst:3"]);
		expect([second, third]).toEqual([first + 1, first + 2]);
		expect(await env.CACHE_KV.get(SEQ_KEYS.max)).toBe(String(third));
		expect(await env.CACHE_KV.get(await tagSeqKey("burst:3"))).toBe(String(third));
	});

	it("makes this isolate's next read fresh: a write then an invalidation is never served stale", async () => {
		const a = testApp();
		expect((await json(await a.request("/v1/products/3"))).data.stock).toBe(0);
		expect(cacheStatus(await a.request("/v1/products/3"))).toMatch(/memory; hit/);
		await env.DB.prepare("UPDATE products SET stock = 41 WHERE id = 3").run();
		await a.cache.invalidateTags(env, ["product:3"]);
		const after = await a.request("/v1/products/3");
		expect(cacheStatus(after)).toMatch(
			/^tiercache-kv; fwd=miss; detail=invalidated; stored, .*tiercache-memory; fwd=miss; detail=invalidated; stored$/,
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

	it("uses the fast path for entries read at or after the published maximum", async () => {
		const a = testApp();
		await a.cache.invalidateTags(env, ["unrelated:1"]);
		await a.request("/v1/categories/kitchen"); // filled after the bump: readSeq >= max
		const checks = () => a.cache.seqs.tagLookups + a.cache.seqs.deltaValidations;
		const before = checks();
		expect(cacheStatus(await a.request("/v1/categories/kitchen"))).toMatch(/memory; hit/);
		expect(checks()).toBe(before);
		await a.cache.invalidateTags(env, ["unrelated:2"]); // now the entry is older than max
		expect(cacheStatus(await a.request("/v1/categories/kitchen"))).toMatch(/memory; hit/);
		// Checked once, from the bumps this isolate read from D1 with its own invalidation…
		expect(a.cache.seqs.deltaValidations).toBe(before - a.cache.seqs.tagLookups + 1);
		// …and not again while the maximum stays where it is.
		await a.request("/v1/categories/kitchen");
		expect(checks()).toBe(before + 1);
	});

	it("reaches another isolate once its memo of published seqs expires (about a second)", async () => {
		const writer = testApp({ shareKeys: true });
		const reader = testApp({ shareKeys: true });
		await reader.request("/v1/products/2");
		await reader.request("/v1/products/2"); // a hit: the reader has now memoised the published seqs
		await env.DB.prepare("UPDATE products SET name = 'Chef knife v2' WHERE id = 2").run();
		await writer.cache.invalidateTags(env, ["product:2"]);
		// Inside the reader's memo window it may still answer from memory…
		expect((await json(await reader.request("/v1/products/2"))).data.name).toBe("Chef knife");
		// …and not after it.
		reader.advance(1000);
		const res = await reader.request("/v1/products/2");
		expect((await json(res)).data.name).toBe("Chef knife v2");
		expect(cacheStatus(res)).toMatch(/memory; fwd=miss; detail=invalidated/);
	});

	it("validates from the bumps it read from D1 once they reach the maximum, without per-tag look-ups", async () => {
		const writer = testApp({ shareKeys: true });
		const reader = testApp({ shareKeys: true });
		await reader.request("/v1/categories/garden");
		await writer.cache.invalidateTags(env, ["unrelated:delta"]); // moves the maximum
		reader.advance(1000);
		// An entry older than the maximum: looked up in KV; coverage of D1's bumps starts (background).
		expect(cacheStatus(await reader.request("/v1/categories/garden"))).toMatch(/memory; hit/);
		await reader.request("/v1/categories/kitchen"); // entries read after coverage started
		await reader.request("/v1/products/3"); // (garden)
		await writer.cache.invalidateTags(env, ["category:1"]);
		reader.advance(1000);
		await reader.request("/v1/categories/garden"); // sees the new maximum: refreshes the bumps from D1
		reader.advance(1000);
		const lookups = reader.cache.seqs.tagLookups;
		const fromDelta = reader.cache.seqs.deltaValidations;
		expect(cacheStatus(await reader.request("/v1/categories/kitchen"))).toMatch(/memory; fwd=miss; detail=invalidated/);
		expect(cacheStatus(await reader.request("/v1/products/3"))).toMatch(/memory; hit/);
		// kitchen: rejected at each of the three tiers; product 3: a memory hit.
		expect(reader.cache.seqs.deltaValidations).toBe(fromDelta + 4);
		expect(reader.cache.seqs.tagLookups).toBe(lookups);
	});

	it("publishes a floor instead of per-tag keys for large invalidations", async () => {
		const a = testApp({ floorThreshold: 3 });
		await a.request("/v1/categories");
		const tags = ["bulk:1", "bulk:2", "bulk:3", "bulk:4"];
		const seq = await a.cache.invalidateTags(env, tags);
		expect(await env.CACHE_KV.get(SEQ_KEYS.floor)).toBe(String(seq));
		expect(await env.CACHE_KV.get(await tagSeqKey("bulk:1"))).toBeNull();
		// Everything read before the floor is invalid, whatever its tags.
		expect(cacheStatus(await a.request("/v1/categories"))).toMatch(/memory; fwd=miss; detail=invalidated/);
		const b = testApp({ shareKeys: true });
		expect((await b.cache.seqs.published(env.CACHE_KV, async () => 0, Date.now())).floor).toBe(seq);
	});

	it("treats a namespace where nothing was published yet as a floor at D1's counter", async () => {
		const a = testApp();
		await a.request("/v1/categories/kitchen");
		await env.CACHE_KV.delete(SEQ_KEYS.max);
		await env.CACHE_KV.delete(SEQ_KEYS.floor);
		await env.DB.prepare("UPDATE cache_seq SET value = value + 1 WHERE id = 1").run();
		const b = testApp({ shareKeys: false });
		const published = await b.cache.seqs.published(env.CACHE_KV, counter, Date.now());
		expect(published).toEqual({ max: await counter(), floor: await counter() });
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
