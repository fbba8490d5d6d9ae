import { env, exports } from "cloudflare:workers";
import type { PurgeTarget } from "tiercache";
import { beforeEach, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { resetCatalog, seedSmallCatalog } from "./helpers/fixtures";

beforeEach(async () => {
	await resetCatalog();
	await seedSmallCatalog();
	await testApp().cache.sweep(env, 10_000); // start each test with nothing unhandled
});

/** Tags whose seq moved past `since`. */
async function bumpedSince(since: number): Promise<string[]> {
	const rows = await env.DB.prepare("SELECT tag FROM cache_tag_seq WHERE seq > ?1 ORDER BY tag")
		.bind(since)
		.all<{ tag: string }>();
	return rows.results.map((r) => r.tag);
}

async function counter(): Promise<number> {
	const row = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
	return Number(row?.value);
}

async function bumps(sql: string): Promise<string[]> {
	const since = await counter();
	await env.DB.exec(sql);
	return bumpedSince(since);
}

describe("triggers bump every tag a change touches, in the change's transaction", () => {
	it("products: insert, update (moving category bumps both), delete (and its reviews)", async () => {
		expect(
			await bumps(
				"INSERT INTO products (id, sku, slug, name, price_cents, category_id) VALUES (9, 'T-9', 't-9', 'Nine', 1, 2)",
			),
		).toEqual([
			"category:2",
			"product:9",
			"products",
			"products:order:created",
			"products:order:name",
			"products:order:price",
			"products:order:rating",
		]);
		expect(await bumps("UPDATE products SET category_id = 2 WHERE id = 1")).toEqual([
			"category:1",
			"category:2",
			"product:1",
			"products",
		]);
		// A change that cannot reorder listings bumps the product only (a listing showing it carries its tag)…
		expect(await bumps("UPDATE products SET stock = 77, description = 'new' WHERE id = 1")).toEqual(["product:1"]);
		// …a change of a sort key bumps the order of the listings sorted by it, not the others.
		expect(await bumps("UPDATE products SET price_cents = 1 WHERE id = 1")).toEqual([
			"product:1",
			"products:order:price",
		]);
		expect(await bumps("UPDATE products SET name = 'One, renamed' WHERE id = 1")).toEqual([
			"product:1",
			"products:order:name",
		]);
		expect(await bumps("DELETE FROM products WHERE id = 1")).toEqual([
			"category:2",
			"product:1",
			"products",
			"products:order:created",
			"products:order:name",
			"products:order:price",
			"products:order:rating",
			"reviews:product:1",
		]);
	});

	it("reviews: a review bumps its product and its reviews", async () => {
		expect(await bumps("INSERT INTO reviews (product_id, rating) VALUES (2, 5)")).toEqual([
			"product:2",
			"reviews:product:2",
		]);
		expect(await bumps("UPDATE reviews SET product_id = 3 WHERE product_id = 2")).toEqual([
			"product:2",
			"product:3",
			"reviews:product:2",
			"reviews:product:3",
		]);
		expect(await bumps("DELETE FROM reviews WHERE product_id = 3")).toEqual(["product:3", "reviews:product:3"]);
	});

	it("categories: insert, update, delete", async () => {
		expect(await bumps("INSERT INTO categories (id, slug, name) VALUES (7, 'toys', 'Toys')")).toEqual([
			"categories",
			"category:7",
		]);
		expect(await bumps("UPDATE categories SET name = 'Games' WHERE id = 7")).toEqual(["categories", "category:7"]);
		expect(await bumps("DELETE FROM categories WHERE id = 7")).toEqual(["categories", "category:7"]);
	});

	it("a write that fails rolls its bump back with it", async () => {
		const since = await counter();
		await expect(
			env.DB.exec(
				"INSERT INTO products (id, sku, slug, name, price_cents, category_id) VALUES (10, 'K-1', 'dup', 'Dup', 1, 1)",
			),
		).rejects.toThrow();
		expect(await counter()).toBe(since);
	});
});

describe("writes behind the API's back (wrangler d1 execute)", () => {
	it("are fresh at every isolate within a second, without the cron", async () => {
		const isolates = [testApp({ shareKeys: true }), testApp({ shareKeys: true }), testApp({ shareKeys: true })];
		for (const i of isolates) {
			await i.request("/v1/products/2");
			expect(cacheStatus(await i.request("/v1/products/2"))).toMatch(/memory; hit/);
		}
		await env.DB.exec("UPDATE products SET name = 'Renamed by SQL' WHERE id = 2");
		for (const i of isolates) {
			i.advance(1000);
			const res = await i.request("/v1/products/2");
			expect(((await res.json()) as { data: { name: string } }).data.name).toBe("Renamed by SQL");
		}
	});

	it("a rename reloads the listings that show the product and those sorted by name, and no other", async () => {
		const a = testApp();
		const listings = [
			"/v1/products?category=kitchen",
			"/v1/products?category=garden",
			"/v1/products?category=garden&sort=name",
		];
		for (const path of listings) await a.request(path);
		for (const path of listings) expect(cacheStatus(await a.request(path))).toMatch(/memory; hit/);
		await env.DB.exec("UPDATE products SET name = 'Cast iron pan, renamed' WHERE id = 1");
		a.advance(1_000); // raw SQL: the view learns it at its refresh age
		const [kitchen, garden, gardenByName] = await Promise.all(listings.map((path) => a.request(path)));
		expect(cacheStatus(kitchen as Response)).toMatch(/memory; fwd=miss; detail=invalidated/); // shows product 1
		expect(await (kitchen as Response).text()).toContain("Cast iron pan, renamed");
		expect(cacheStatus(garden as Response)).toMatch(/memory; hit/); // newest first, without product 1
		expect(cacheStatus(gardenByName as Response)).toMatch(/memory; fwd=miss; detail=invalidated/); // ordered by name
	});

	it("are handed to the edge purge by the cron, which marks them handled", async () => {
		const purged: PurgeTarget[] = [];
		const a = testApp({ shareKeys: true, purge: async (_, target) => void purged.push(target) });
		await env.DB.exec("UPDATE products SET name = 'Renamed by SQL' WHERE id = 2");
		const swept = await a.cache.sweep(env);
		expect(swept).toEqual({ tags: 2, everything: false }); // product:2 and products:order:name (a name is a sort key)
		expect(purged).toHaveLength(1);
		expect((purged[0] as { tags: string[] }).tags).toEqual(
			expect.arrayContaining(["product:2", "products:order:name"]),
		);
		const unhandled = await env.DB.prepare("SELECT count(*) AS n FROM cache_tag_seq WHERE seq > handled_seq").first<{
			n: number;
		}>();
		expect(unhandled?.n).toBe(0);
		expect((await a.cache.sweep(env)).tags).toBe(0);
	});

	it("through the Worker's own scheduled handler, whose isolate is fresh at once", async () => {
		const read = async () => {
			const res = await (exports.default as unknown as Fetcher).fetch("http://tiercache.test/v1/products/3");
			return { status: cacheStatus(res), body: (await res.json()) as { data: { stock: number } } };
		};
		await read();
		expect((await read()).status).toMatch(/memory; hit/);
		await env.DB.exec("UPDATE products SET stock = 123 WHERE id = 3");
		await (exports.default as unknown as { scheduled(options: { cron: string }): Promise<unknown> }).scheduled({
			cron: "* * * * *",
		});
		expect((await read()).body.data.stock).toBe(123);
	});

	it("purge the whole edge when more tags changed than a sweep purges one by one", async () => {
		const purged: PurgeTarget[] = [];
		const a = testApp({ shareKeys: true, purge: async (_, target) => void purged.push(target) });
		await a.request("/v1/categories/kitchen");
		await env.DB.exec("UPDATE products SET stock = stock + 1");
		const swept = await a.cache.sweep(env, 2);
		expect(swept.everything).toBe(true);
		expect(purged).toEqual([{ everything: true }]);
		const unhandled = await env.DB.prepare("SELECT count(*) AS n FROM cache_tag_seq WHERE seq > handled_seq").first<{
			n: number;
		}>();
		expect(unhandled?.n).toBe(0);
		// T1–T3 raise no floor for it: an entry whose tags the change did not touch stays valid.
		a.advance(1000);
		expect(cacheStatus(await a.request("/v1/categories/kitchen"))).toMatch(/memory; hit/);
	});
});
