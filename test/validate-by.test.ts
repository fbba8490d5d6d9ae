import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

// A product page is validated by the product's tag alone, a review page by
// the reviews' tag: changes that leave their bodies as they are no longer
// cost a load, while every tag still labels them for the edge.

beforeAll(async () => {
	await seedSmallCatalog();
});

const patch = (a: ReturnType<typeof testApp>, id: number, body: unknown) =>
	a.request(`/v1/products/${id}`, {
		method: "PATCH",
		headers: { ...ADMIN, "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

describe("a product page", () => {
	it("stays a hit when another product of its category changes, and carries the category's tag", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/1");
		expect(first.headers.get("Cache-Tag")).toBe("product:1,category:1");
		expect((await patch(a, 2, { stock: 7 })).status).toBe(200); // product 2 is in category 1 too
		const again = await a.request("/v1/products/1");
		expect(cacheStatus(again)).toMatch(/^tiercache-memory; hit/);
		expect(again.headers.get("Cache-Tag")).toBe("product:1,category:1");
		expect(await again.json()).toEqual(await first.json());
		expect(a.cache.stats.origin.loads).toBe(1);
	});

	it("is reloaded when its own product changes, here and at another isolate", async () => {
		const a = testApp({ shareKeys: true });
		const b = testApp({ shareKeys: true });
		await a.request("/v1/products/1");
		await b.request("/v1/products/1");
		const changed = (await (await patch(a, 1, { stock: 11 })).json()) as { data: { updatedAt: string } };
		const here = await a.request("/v1/products/1");
		expect(cacheStatus(here)).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(((await here.json()) as { data: { stock: number } }).data.stock).toBe(11);
		// The other isolate learns of it through the clock (a second at most; the test moves its clock past that).
		b.advance(1_500);
		const there = (await (await b.request("/v1/products/1")).json()) as { data: { updatedAt: string } };
		expect(there.data.updatedAt).toBe(changed.data.updatedAt);
	});
});

describe("a review page", () => {
	it("stays a hit when its product row changes, and is reloaded when a review is added", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/1/reviews");
		expect(first.headers.get("Cache-Tag")).toBe("product:1,reviews:product:1");
		await patch(a, 1, { stock: 12 });
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
