import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { get, seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

async function expectError(res: Response, status: number, code: string) {
	expect(res.status).toBe(status);
	expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
	const body = (await res.json()) as { error: { code: string; message: string } };
	expect(body.error.code).toBe(code);
	expect(body.error.message).toEqual(expect.any(String));
	expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
	return body;
}

describe("GET /v1/products/:id", () => {
	it("answers the product with its rating summary in the contract's shape and its tags", async () => {
		const res = await get("/v1/products/1");
		expect(res.status).toBe(200);
		const body = (await res.json()) as { data: Record<string, unknown> };
		expect(body.data).toEqual({
			id: 1,
			sku: "K-1",
			slug: "cast-iron-pan",
			name: "Cast iron pan",
			description: "",
			priceCents: 4500,
			currency: "USD",
			categoryId: 1,
			stock: 10,
			rating: { average: 0, count: 0 },
			createdAt: "2026-01-01T00:00:00.000Z",
			updatedAt: "2026-01-01T00:00:00.000Z",
		});
		expect(res.headers.get("Cache-Tag")).toBe("product:1,category:1");
		expect(res.headers.get("Surrogate-Key")).toBe("product:1 category:1");
	});

	it("answers HEAD like GET without a body", async () => {
		const res = await get("/v1/products/1", { method: "HEAD" });
		expect(res.status).toBe(200);
		expect(await res.text()).toBe("");
	});

	it("404s for a missing id, tagged with the product it would have been", async () => {
		const res = await get("/v1/products/424242");
		await expectError(res, 404, "not_found");
		expect(res.headers.get("Cache-Tag")).toBe("product:424242");
	});

	it.each(["abc", "0", "-1", "1.5", "1e3", "01", "9999999999999999", "%20"])("400s for the id %j", async (id) => {
		await expectError(await get(`/v1/products/${id}`), 400, "invalid_request");
	});

	it("400s for any query parameter", async () => {
		await expectError(await get("/v1/products/1?fields=name"), 400, "invalid_request");
	});
});

describe("GET /v1/products", () => {
	it("lists newest first with page, limit and next", async () => {
		const res = await get("/v1/products?limit=2");
		expect(res.status).toBe(200);
		const body = (await res.json()) as { data: { id: number }[]; page: number; limit: number; next: number | null };
		expect(body.data.map((p) => p.id)).toEqual([3, 2]);
		expect(body).toMatchObject({ page: 1, limit: 2, next: 2 });
		expect(res.headers.get("Cache-Tag")).toBe("products,products:order:created,product:3,product:2");
	});

	it("filters by category slug and tags the category", async () => {
		const res = await get("/v1/products?category=kitchen&sort=-price");
		const body = (await res.json()) as { data: { id: number }[]; next: number | null };
		expect(body.data.map((p) => p.id)).toEqual([2, 1]);
		expect(body.next).toBeNull();
		expect(res.headers.get("Cache-Tag")).toBe("products,products:order:price,category:1,product:2,product:1");
	});

	it("404s for an unknown category", async () => {
		await expectError(await get("/v1/products?category=nope"), 404, "not_found");
	});

	it.each([
		["an unknown parameter", "?colour=red"],
		["a sort outside the allowlist", "?sort=price;drop"],
		["limit 0", "?limit=0"],
		["limit 101", "?limit=101"],
		["a fractional limit", "?limit=2.5"],
		["page 0", "?page=0"],
		["a negative page", "?page=-1"],
		["a non-numeric page", "?page=two"],
		["a duplicated parameter", "?sort=name&sort=price"],
		["a malformed category slug", "?category=Kitchen%20Stuff"],
	])("400s for %s", async (_, query) => {
		const body = await expectError(await get(`/v1/products${query}`), 400, "invalid_request");
		expect(body.error.message).toMatch(/invalid query/);
	});
});

describe("GET /v1/products/:id/reviews", () => {
	it("lists reviews newest first, tagged with the product and its reviews", async () => {
		const res = await get("/v1/products/1/reviews?limit=1");
		expect(res.status).toBe(200);
		const body = (await res.json()) as { data: { title: string }[]; next: number | null };
		expect(body.data.map((r) => r.title)).toEqual(["Good"]);
		expect(body.next).toBe(2);
		expect(res.headers.get("Cache-Tag")).toBe("product:1,reviews:product:1");
	});

	it("404s for a missing product and 400s for a bad id or query", async () => {
		await expectError(await get("/v1/products/999/reviews"), 404, "not_found");
		await expectError(await get("/v1/products/x/reviews"), 400, "invalid_request");
		await expectError(await get("/v1/products/1/reviews?limit=500"), 400, "invalid_request");
		await expectError(await get("/v1/products/1/reviews?sort=name"), 400, "invalid_request");
	});
});

describe("GET /v1/categories and /v1/categories/:slug", () => {
	it("lists categories by name", async () => {
		const res = await get("/v1/categories");
		expect(res.status).toBe(200);
		const body = (await res.json()) as { data: { slug: string }[]; limit: number };
		expect(body.data.map((c) => c.slug)).toEqual(["garden", "kitchen"]);
		expect(body.limit).toBe(100);
		expect(res.headers.get("Cache-Tag")).toBe("categories,category:2,category:1");
	});

	it("answers one category by slug", async () => {
		const res = await get("/v1/categories/kitchen");
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ data: { id: 1, slug: "kitchen", name: "Kitchen" } });
		expect(res.headers.get("Cache-Tag")).toBe("category:1");
	});

	it("404s for an unknown slug, 400s for a malformed one or a query", async () => {
		await expectError(await get("/v1/categories/missing"), 404, "not_found");
		await expectError(await get("/v1/categories/NOT_A_SLUG"), 400, "invalid_request");
		await expectError(await get("/v1/categories?page=0"), 400, "invalid_request");
		await expectError(await get("/v1/categories/kitchen?x=1"), 400, "invalid_request");
	});
});

describe("unknown routes and an unreachable origin", () => {
	it("404s in the contract's shape for a route that does not exist", async () => {
		await expectError(await get("/v2/nothing"), 404, "not_found");
	});

	it("answers 503 origin_unavailable with no-store when D1 fails, without leaking the SQL error", async () => {
		await env.DB.exec("ALTER TABLE products RENAME TO products_away");
		try {
			// A key no earlier test read, so no tier holds it.
			const res = await get("/v1/products?limit=7&page=3");
			const body = await expectError(res, 503, "origin_unavailable");
			expect(res.headers.get("Cache-Control")).toBe("no-store");
			expect(JSON.stringify(body)).not.toMatch(/products|SQLITE|no such table/i);
		} finally {
			await env.DB.exec("ALTER TABLE products_away RENAME TO products");
		}
	});
});
