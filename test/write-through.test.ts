import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { Snapshot } from "tiercache";
import { beforeAll, describe, expect, it } from "vitest";
import { entryBytes } from "../packages/tiercache/src/entry";
import { inlineSql } from "../packages/tiercache/src/seq-sql";
import { productAnswer } from "../src/catalog/answers";
import { catalogPolicies } from "../src/catalog/cache";
import { products } from "../src/db/schema";
import { cacheStatus, patchProduct, testApp } from "./helpers/app";
import { db, seedSmallCatalog } from "./helpers/fixtures";

// Answers stored without a load of their own: a product's page written
// through by the write that changed it (`cache.batch` + `cache.store`), and
// a product's page from the row a page of its reviews read (`related`).
// Stored at the snapshot the rows were read in, they are validated as every
// entry is.

beforeAll(async () => {
	await seedSmallCatalog();
});

const tagSeq = async (tag: string) =>
	Number(
		(await env.DB.prepare("SELECT seq FROM cache_tag_seq WHERE tag = ?1").bind(tag).first<{ seq: number }>())?.seq,
	);

describe("cache.batch", () => {
	it("reads cache_seq after the write's queries, in their transaction: their triggers' bumps included", async () => {
		const a = testApp();
		const d = db();
		const before = await tagSeq("product:2");
		const { results, snapshot } = await a.cache.batch(d, [
			d.update(products).set({ stock: 77 }).where(eq(products.id, 2)).returning(),
		]);
		expect(results).toHaveLength(1);
		expect(results[0][0]).toMatchObject({ id: 2, stock: 77 });
		const bumped = await tagSeq("product:2");
		expect(bumped).toBeGreaterThan(before);
		expect(snapshot).toBeInstanceOf(Snapshot);
		expect(snapshot.readSeq).toBe(bumped);
		const counter = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
		expect(snapshot.readSeq).toBe(counter?.value);
	});

	it("fails as the write fails, and stores nothing", async () => {
		const a = testApp();
		const d = db();
		await expect(
			a.cache.batch(d, [d.update(products).set({ categoryId: 999 }).where(eq(products.id, 2)).returning()]),
		).rejects.toThrow();
		expect(a.cache.stats.stored).toEqual({ answers: 0, skipped: 0 });
	});
});

describe("cache.batch with the write's tags", () => {
	/** The real binding, its batches counted (the engine's D1 calls go through `database`). */
	function countedDb() {
		const calls = { batches: 0 };
		const counted = new Proxy(env.DB, {
			get(target, prop) {
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				return (...args: unknown[]) => {
					if (prop === "batch") calls.batches++;
					return value.apply(target, args);
				};
			},
		});
		return { calls, database: () => counted };
	}

	it("reads the tags' seqs in the write's transaction: afterWrite then makes no D1 round trip of its own", async () => {
		const { calls, database } = countedDb();
		const a = testApp({ database });
		await a.request("/v1/products/2"); // a view of the clock, and an entry to invalidate
		const d = db();
		const tags = ["product:2", "products"];
		const { snapshot } = await a.cache.batch(d, [d.update(products).set({ stock: 55 }).where(eq(products.id, 2))], {
			tags,
		});
		// The clock's increment came with it: this isolate's view has reached the write.
		expect(a.cache.clock.view.counter).toBe(snapshot.readSeq);
		const before = calls.batches;
		await a.cache.afterWrite(env, tags, undefined, snapshot);
		expect(calls.batches - before).toBe(0);
		const next = await a.request("/v1/products/2");
		expect(cacheStatus(next)).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(((await next.json()) as { data: { stock: number } }).data.stock).toBe(55);
		expect(a.cache.stats.purges.invalidations).toBe(1);
	});

	it("reads them itself when the snapshot does not cover every tag", async () => {
		const { calls, database } = countedDb();
		const a = testApp({ database });
		await a.request("/v1/products/1"); // a view of the clock
		const d = db();
		const { snapshot } = await a.cache.batch(d, [d.update(products).set({ stock: 56 }).where(eq(products.id, 2))], {
			tags: ["product:2"],
		});
		const before = calls.batches;
		await a.cache.afterWrite(env, ["product:2", "category:1"], undefined, snapshot);
		expect(calls.batches - before).toBe(1);
		expect(a.cache.stats.recent.at(-1)?.tags).toContain("product:2");
	});
});

describe("the statements a write's batch reads", () => {
	it("carry tags as data, whatever quotes they hold", async () => {
		const a = testApp();
		const d = db();
		const hostile = ["o'brien:1", "x'); DROP TABLE products; --", "q''q"];
		await env.DB.prepare("INSERT INTO cache_tag_seq (tag, seq) VALUES (?1, 1)").bind(hostile[0]).run();
		const { snapshot } = await a.cache.batch(d, [d.update(products).set({ stock: 57 }).where(eq(products.id, 3))], {
			tags: hostile,
		});
		expect(snapshot.readSeq).toBeGreaterThan(0);
		const count = await env.DB.prepare("SELECT count(*) AS n FROM products").first<{ n: number }>();
		expect(count?.n).toBe(3);
		// The one tag with a row is read back as itself: afterWrite finds it unhandled and propagates it.
		await a.cache.afterWrite(env, hostile, undefined, snapshot);
		expect(a.cache.stats.recent.at(-1)?.tags).toEqual([hostile[0]]);
	});

	it("refuse a parameter that is neither a safe integer nor a string", () => {
		expect(() => inlineSql("SELECT ?1", 1.5)).toThrow(TypeError);
		expect(new SQLiteSyncDialect().sqlToQuery(inlineSql("SELECT ?1, ?2, ?1", 7, "a'b")).sql).toBe(
			"SELECT 7, 'a''b', 7",
		);
	});
});

describe("cache.store", () => {
	it("takes only a snapshot that cache.batch made", async () => {
		const a = testApp();
		expect(() => new Snapshot(1, Symbol("tiercache snapshot"))).toThrow(/cache\.batch/);
		await expect(a.cache.store(env, { readSeq: 1_000_000 } as unknown as Snapshot, [])).rejects.toThrow(TypeError);
	});
});

describe("a write of a product", () => {
	it("stores the product's new page: the writer's next read is a memory hit of exactly the write's answer", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		const loads = a.cache.stats.origin.loads;
		const written = await patchProduct(a, 1, { stock: 21, name: "Pan, written through" });
		expect(written.status).toBe(200);
		const answer = await written.json();
		const next = await a.request("/v1/products/1");
		expect(cacheStatus(next)).toMatch(/^tiercache-memory; hit/);
		expect(await next.json()).toEqual(answer);
		expect(a.cache.stats.origin.loads).toBe(loads);
		// What a load of the same row gives, byte for byte (another key version: nothing shared).
		const loaded = await testApp().request("/v1/products/1");
		expect(cacheStatus(loaded)).toMatch(/fwd=miss/);
		expect(loaded.headers.get("ETag")).toBe(next.headers.get("ETag"));
		expect(loaded.headers.get("Cache-Tag")).toBe(next.headers.get("Cache-Tag"));
	});

	it("is overtaken by a later change behind the API's back: that change is served, not the stored answer", async () => {
		const a = testApp();
		expect((await patchProduct(a, 1, { stock: 31 })).status).toBe(200);
		await env.DB.prepare("UPDATE products SET stock = 32 WHERE id = 1").run(); // the trigger bumps product:1
		a.advance(1_500); // the view's age: the next read refreshes it
		const next = await a.request("/v1/products/1");
		expect(cacheStatus(next)).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(((await next.json()) as { data: { stock: number } }).data.stock).toBe(32);
	});

	it("at one isolate, after writes at two: each isolate serves the last committed version", async () => {
		const a = testApp({ shareKeys: true, cacheName: "write-through-two" });
		const b = testApp({ shareKeys: true, cacheName: "write-through-two" });
		await a.request("/v1/products/2");
		await b.request("/v1/products/2");
		expect((await patchProduct(a, 2, { stock: 41 })).status).toBe(200);
		expect((await patchProduct(b, 2, { stock: 42 })).status).toBe(200);
		// a stored 41 at its write; b's write (42) came later and is what both serve once they know of it.
		a.advance(1_500);
		b.advance(1_500);
		for (const app of [a, b]) {
			const res = await app.request("/v1/products/2");
			expect(((await res.json()) as { data: { stock: number } }).data.stock).toBe(42);
		}
	});
});

describe("a page of a product's reviews", () => {
	it("stores the product's page from the row it read: its next read needs no load, here or at another isolate", async () => {
		const a = testApp({ shareKeys: true, cacheName: "related-answers" });
		const b = testApp({ shareKeys: true, cacheName: "related-answers" });
		b.clock.now = a.clock.now;
		expect((await a.request("/v1/products/3/reviews")).status).toBe(200);
		expect(a.cache.stats.origin.loads).toBe(1);
		expect(a.cache.stats.stored).toEqual({ answers: 1, skipped: 0 });
		const here = await a.request("/v1/products/3");
		expect(cacheStatus(here)).toMatch(/^tiercache-memory; hit/);
		const there = await b.request("/v1/products/3");
		expect(cacheStatus(there)).toMatch(/^tiercache-colo; hit/);
		expect(a.cache.stats.origin.loads).toBe(1);
		expect(b.cache.stats.origin.loads).toBe(0);
		// The same answer as a load of the product's page.
		const loaded = await testApp().request("/v1/products/3");
		expect(await loaded.json()).toEqual(await here.json());
		expect(loaded.headers.get("ETag")).toBe(here.headers.get("ETag"));
	});

	it("leaves a product page that memory holds from as late a snapshot as it is", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		await a.request("/v1/products/1/reviews?limit=1"); // no write between: read at the same seq
		expect(a.cache.stats.stored).toEqual({ answers: 0, skipped: 1 });
		const page = await a.request("/v1/products/1");
		expect(cacheStatus(page)).toMatch(/^tiercache-memory; hit/);
	});

	it("leaves a product page that memory holds unchanged since an older snapshot: no Cache API write for it", async () => {
		const a = testApp();
		await a.request("/v1/products/3");
		// Something else changes: the reviews page is read at a later seq, but nothing of product 3 moved.
		await a.cache.invalidateTags(env, ["unrelated:related-answers"]);
		const coloWrites = a.cache.stats.tiers.colo.writes;
		expect((await a.request("/v1/products/3/reviews?limit=7")).status).toBe(200);
		expect(a.cache.stats.stored).toEqual({ answers: 0, skipped: 1 });
		expect(a.cache.stats.tiers.colo.writes).toBe(coloWrites + 1); // the reviews page's own
		// Once product 3 changed, the page the reviews' batch read is stored: memory and the Cache API.
		await a.cache.invalidateTags(env, ["product:3"]);
		expect((await a.request("/v1/products/3/reviews?limit=8")).status).toBe(200);
		expect(a.cache.stats.stored).toEqual({ answers: 1, skipped: 1 });
		expect(a.cache.stats.tiers.colo.writes).toBe(coloWrites + 3);
		expect(cacheStatus(await a.request("/v1/products/3"))).toMatch(/^tiercache-memory; hit/);
	});

	it("stores nothing for a product that does not exist", async () => {
		const a = testApp();
		expect((await a.request("/v1/products/404/reviews")).status).toBe(404);
		expect(a.cache.stats.stored).toEqual({ answers: 0, skipped: 0 });
	});
});

describe("a page of products", () => {
	type Listed = { data: { id: number }[] };

	it("stores each item's product page in this isolate's memory alone: its next read here needs no load", async () => {
		const a = testApp({ shareKeys: true, cacheName: "listing-related" });
		const b = testApp({ shareKeys: true, cacheName: "listing-related" });
		b.clock.now = a.clock.now;
		const listing = await a.request("/v1/products?category=kitchen");
		expect(listing.status).toBe(200);
		const ids = ((await listing.json()) as Listed).data.map((p) => p.id);
		expect(ids).toEqual([2, 1]);
		expect(a.cache.stats.origin.loads).toBe(1);
		expect(a.cache.stats.stored).toEqual({ answers: 2, skipped: 0 });
		expect(a.cache.stats.tiers.colo.writes).toBe(1); // the listing's own: none for its items
		for (const id of ids) {
			const here = await a.request(`/v1/products/${id}`);
			expect(cacheStatus(here)).toMatch(/^tiercache-memory; hit/);
			// The same answer as a load of the product's page (another key version: nothing shared).
			const loaded = await testApp().request(`/v1/products/${id}`);
			expect(cacheStatus(loaded)).toMatch(/fwd=miss/);
			expect(await here.json()).toEqual(await loaded.json());
			expect(here.headers.get("ETag")).toBe(loaded.headers.get("ETag"));
			expect(here.headers.get("Cache-Tag")).toBe(loaded.headers.get("Cache-Tag"));
		}
		expect(a.cache.stats.origin.loads).toBe(1);
		// Another isolate at the location finds the listing in the Cache API, but loads the product's page.
		expect(cacheStatus(await b.request("/v1/products?category=kitchen"))).toMatch(/^tiercache-colo; hit/);
		const there = await b.request("/v1/products/2");
		expect(cacheStatus(there)).toMatch(/tiercache-colo; fwd=miss/);
		expect(b.cache.stats.origin.loads).toBe(1);
	});

	it("is overtaken by a later change of a listed product: that change is served", async () => {
		const a = testApp();
		expect((await a.request("/v1/products?category=kitchen&limit=1")).status).toBe(200);
		expect(a.cache.stats.stored).toEqual({ answers: 1, skipped: 0 });
		await env.DB.prepare("UPDATE products SET stock = 57 WHERE id = 2").run(); // the trigger bumps product:2
		a.advance(1_500); // the view's age: the next read refreshes it
		const next = await a.request("/v1/products/2");
		expect(cacheStatus(next)).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(((await next.json()) as { data: { stock: number } }).data.stock).toBe(57);
		expect(a.cache.stats.origin.loads).toBe(2);
	});

	it("stores item pages only where memory has room: they never evict what was asked for", async () => {
		// The sizes of the listing's entry and of product 2's page, as memory accounts them.
		const sized = testApp({ shareKeys: true, cacheName: "listing-room-sizes" });
		await sized.request("/v1/products?category=kitchen");
		const held = [...sized.cache.memory.keys()].map((key) => {
			const entry = sized.cache.memory.peek(key) as NonNullable<ReturnType<typeof sized.cache.memory.peek>>;
			return { entry, bytes: entryBytes(key, entry) };
		});
		expect(held).toHaveLength(3);
		const bytesOf = (first: string) => held.find(({ entry }) => entry.tags[0] === first)?.bytes ?? 0;
		const listingBytes = bytesOf("products");
		const product2Bytes = bytesOf("product:2");
		expect(listingBytes).toBeGreaterThan(0);
		expect(product2Bytes).toBeGreaterThan(0);
		expect(bytesOf("product:1")).toBeGreaterThan(0);

		// Room for the listing and one item page.
		const a = testApp({ shareKeys: true, cacheName: "listing-room", memoryBytes: listingBytes + product2Bytes });
		await a.request("/v1/products?category=kitchen");
		expect(a.cache.stats.stored).toEqual({ answers: 1, skipped: 1 });
		expect(a.cache.memory.evictions).toBe(0);
		expect(a.cache.memory.bytes).toBe(listingBytes + product2Bytes);
		expect(cacheStatus(await a.request("/v1/products/2"))).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.origin.loads).toBe(1);
		// Product 1 was asked for: loaded, and stored by evicting the least recently used.
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/fwd=miss/);
		expect(a.cache.stats.origin.loads).toBe(2);
		expect(a.cache.memory.evictions).toBeGreaterThan(0);
	});

	it("stores an answer in the tiers it names, and refuses KV or an unknown tier", async () => {
		const a = testApp();
		const product = catalogPolicies(a.cache).product;
		const d = db();
		const { results, snapshot } = await a.cache.batch(d, [d.select().from(products).where(eq(products.id, 1))]);
		const [[row]] = results;
		if (!row) throw new Error("product 1 is seeded");
		const answer = productAnswer(row);
		for (const tiers of [["kv"], ["memory", "disk"]]) {
			// The bad answer second: the first is not stored either.
			const answers = [
				{ policy: product, params: { id: 1 }, answer },
				{ policy: product, params: { id: 1 }, answer, tiers: tiers as never },
			];
			await expect(a.cache.store(env, snapshot, answers)).rejects.toThrow(/tiers may name "memory" and "colo" only/);
		}
		expect(a.cache.memory.size).toBe(0);
		expect(a.cache.stats.stored).toEqual({ answers: 0, skipped: 0 });
		// The Cache API alone: no memory entry; the next read is a Cache API hit.
		expect(await a.cache.store(env, snapshot, [{ policy: product, params: { id: 1 }, answer, tiers: ["colo"] }])).toBe(
			1,
		);
		expect(a.cache.memory.size).toBe(0);
		expect(a.cache.stats.tiers.colo.writes).toBe(1);
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/^tiercache-colo; hit/);
		expect(a.cache.stats.origin.loads).toBe(0);
	});
});
