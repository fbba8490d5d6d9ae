import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, patchProduct, testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

// A product page is validated by the product's tag alone, a review page by
// the reviews' tag: changes that leave their bodies as they are no longer
// cost a load, while every tag still labels them for the edge.

beforeAll(async () => {
	await seedSmallCatalog();
});

describe("a product page", () => {
	it("stays a hit when another product of its category changes, and carries the category's tag", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/1");
		expect(first.headers.get("Cache-Tag")).toBe("product:1,category:1");
		expect((await patchProduct(a, 2, { stock: 7 })).status).toBe(200); // product 2 is in category 1 too
		const again = await a.request("/v1/products/1");
		expect(cacheStatus(again)).toMatch(/^tiercache-memory; hit/);
		expect(again.headers.get("Cache-Tag")).toBe("product:1,category:1");
		expect(await again.json()).toEqual(await first.json());
		expect(a.cache.stats.origin.loads).toBe(1);
	});

	it("is written through when its own product changes: the new version, with no load, here and at another isolate", async () => {
		const a = testApp({ shareKeys: true });
		const b = testApp({ shareKeys: true });
		await a.request("/v1/products/1");
		await b.request("/v1/products/1");
		const loads = { a: a.cache.stats.origin.loads, b: b.cache.stats.origin.loads };
		const changed = (await (await patchProduct(a, 1, { stock: 11 })).json()) as { data: { updatedAt: string } };
		const here = await a.request("/v1/products/1");
		expect(cacheStatus(here)).toMatch(/^tiercache-memory; hit/);
		const body = (await here.json()) as { data: { stock: number; updatedAt: string } };
		expect(body).toEqual(changed);
		expect(body.data.stock).toBe(11);
		// The other isolate learns of it through the clock (a second at most; the test moves its clock past that):
		// its memory entry is overtaken, and the Cache API holds the written-through one.
		b.advance(1_500);
		const there = await b.request("/v1/products/1");
		expect(cacheStatus(there)).toMatch(/^tiercache-colo; hit; .*tiercache-memory; fwd=miss; detail=invalidated/);
		expect(await there.json()).toEqual(changed);
		expect({ a: a.cache.stats.origin.loads, b: b.cache.stats.origin.loads }).toEqual(loads);
		expect(a.cache.stats.stored).toEqual({ answers: 1, skipped: 0 });
	});
});

describe("a review page", () => {
	it("stays a hit when its product row changes, and is reloaded when a review is added", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/1/reviews");
		expect(first.headers.get("Cache-Tag")).toBe("product:1,reviews:product:1");
		await patchProduct(a, 1, { stock: 12 });
		expect(cacheStatus(await a.request("/v1/products/1/reviews"))).toMatch(/^tiercache-memory; hit/);
		const added = await a.request("/v1/products/1/reviews", {
			method: "POST",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ rating: 3, title: "Fine" }),
		});
		expect(added.status).toBe(201);
		// Read twice here, the page was re-warmed by the write that invalidated it: a hit of the reloaded page.
		const after = await a.request("/v1/products/1/reviews");
		expect(cacheStatus(after)).toMatch(/^tiercache-memory; hit/);
		expect(((await after.json()) as { data: { title: string }[] }).data.map((r) => r.title)).toContain("Fine");
		expect(a.cache.stats.origin.loads).toBe(2);
		expect(a.cache.stats.rewarm.keys).toBe(1);
	});

	it("is a 404 once its product is deleted, though only the reviews' tag validates it", async () => {
		const a = testApp();
		const ok = await a.request("/v1/products/3/reviews");
		expect(ok.status).toBe(200);
		await env.DB.prepare("DELETE FROM products WHERE id = 3").run(); // behind the API's back: the trigger bumps
		a.advance(1_500);
		expect((await a.request("/v1/products/3/reviews")).status).toBe(404);
	});
});
