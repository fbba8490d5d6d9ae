import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { ADMIN, fetchApp, get, seedSmallCatalog, sendJson } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

async function expectError(res: Response, status: number, code: string) {
	expect(res.status).toBe(status);
	expect(res.headers.get("Cache-Control")).toBe("no-store");
	const body = (await res.json()) as { error: { code: string; message: string } };
	expect(body.error.code).toBe(code);
	return body;
}

async function productCount() {
	const row = await env.DB.prepare("SELECT count(*) AS n FROM products").first<{ n: number }>();
	return row?.n;
}

const newProduct = { sku: "NEW-1", name: "New lamp", priceCents: 2500, categoryId: 2 };

/** Every admin write route with a valid body, for the checks they all share. */
const writes: [string, string, unknown][] = [
	["POST", "/v1/products", { ...newProduct, sku: "SHARED-1" }],
	["PATCH", "/v1/products/2", { stock: 4 }],
	["DELETE", "/v1/products/3", undefined],
	["POST", "/v1/categories", { slug: "shared", name: "Shared" }],
	["PATCH", "/v1/categories/garden", { name: "Garden & yard" }],
	["POST", "/v1/products/1/reviews", { rating: 3 }],
];

describe("admin auth on every write route", () => {
	it.each(writes)("%s %s: 401 without a token, with a wrong one, or another scheme", async (method, path, body) => {
		const attempts: Record<string, string>[] = [
			{},
			{ Authorization: "Bearer wrong" },
			{ Authorization: "Bearer test-admin-token-and-more" },
			{ Authorization: "Basic dGVzdC1hZG1pbi10b2tlbg==" },
		];
		for (const headers of attempts) {
			const res = await fetchApp(path, {
				method,
				headers: { "Content-Type": "application/json", ...headers },
				body: body === undefined ? undefined : JSON.stringify(body),
			});
			await expectError(res, 401, "unauthorized");
			expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
		}
	});

	it("refuses to run admin routes outside development with the development token", async () => {
		const app = createApp();
		for (const token of ["dev-admin-token", ""]) {
			const res = await app.fetch(
				new Request("http://x/v1/products/1", { method: "DELETE", headers: { Authorization: `Bearer ${token}` } }),
				{ ...env, ADMIN_TOKEN: token },
				createExecutionContext(),
			);
			await expectError(res, 503, "admin_not_configured");
		}
		expect(await productCount()).toBeGreaterThan(0);
	});

	it("accepts the development token in development", async () => {
		const app = createApp();
		const res = await app.fetch(
			new Request("http://x/v1/products/1", {
				method: "PATCH",
				headers: { Authorization: "Bearer dev-admin-token", "Content-Type": "application/json" },
				body: JSON.stringify({ stock: 11 }),
			}),
			{ ...env, ENVIRONMENT: "development", ADMIN_TOKEN: "dev-admin-token" },
			createExecutionContext(),
		);
		expect(res.status).toBe(200);
	});
});

describe("body checks on every JSON write route", () => {
	const jsonWrites = writes.filter(([method]) => method !== "DELETE");

	it.each(jsonWrites)("%s %s: 415 for a body that is not JSON", async (method, path, body) => {
		for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
			const res = await fetchApp(path, {
				method,
				headers: { ...ADMIN, "Content-Type": type },
				body: JSON.stringify(body),
			});
			await expectError(res, 415, "unsupported_media_type");
		}
	});

	it.each(jsonWrites)("%s %s: 413 over 64 KiB, with Content-Length or chunked", async (method, path) => {
		const big = JSON.stringify({ name: "x".repeat(70 * 1024) });
		await expectError(await sendJson(method, path, big), 413, "payload_too_large");
		const chunks = new TextEncoder().encode(big);
		let offset = 0;
		const stream = new ReadableStream({
			pull(controller) {
				if (offset >= chunks.length) return controller.close();
				controller.enqueue(chunks.slice(offset, offset + 8192));
				offset += 8192;
			},
		});
		const res = await fetchApp(path, {
			method,
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: stream,
		});
		expect(res.headers.get("Content-Length")).not.toBe(String(chunks.length));
		await expectError(res, 413, "payload_too_large");
	});

	it.each(jsonWrites)("%s %s: 400 for malformed JSON, an unknown field, or a non-object", async (method, path) => {
		for (const body of ["{", "", '{"rating": 5,}', '{"unknown": 1}', "[]", "null", '"text"']) {
			await expectError(await sendJson(method, path, body), 400, "invalid_request");
		}
	});
});

describe("POST /v1/products", () => {
	it("201s with Location and the product, slug derived when absent", async () => {
		const res = await sendJson("POST", "/v1/products", newProduct);
		expect(res.status).toBe(201);
		const body = (await res.json()) as { data: { id: number; slug: string; currency: string; stock: number } };
		expect(res.headers.get("Location")).toBe(`/v1/products/${body.data.id}`);
		expect(body.data).toMatchObject({
			slug: "new-lamp-new-1",
			currency: "USD",
			stock: 0,
			rating: { average: 0, count: 0 },
		});
		expect((await get(`/v1/products/${body.data.id}`)).status).toBe(200);
	});

	it("409s for a duplicate sku", async () => {
		await expectError(await sendJson("POST", "/v1/products", { ...newProduct, slug: "other" }), 409, "conflict");
	});

	it("400s for a category that does not exist, writing nothing", async () => {
		const before = await productCount();
		await expectError(
			await sendJson("POST", "/v1/products", { ...newProduct, sku: "X-9", categoryId: 77 }),
			400,
			"invalid_request",
		);
		expect(await productCount()).toBe(before);
	});

	it.each([
		["a missing name", { sku: "A", priceCents: 1, categoryId: 1 }],
		["a negative price", { ...newProduct, priceCents: -1 }],
		["a fractional price", { ...newProduct, priceCents: 1.5 }],
		["a huge price", { ...newProduct, priceCents: 1e300 }],
		["a price as a string", { ...newProduct, priceCents: "100" }],
		["a lowercase currency", { ...newProduct, currency: "usd" }],
		["a bad sku", { ...newProduct, sku: "has space" }],
		["a bad slug", { ...newProduct, slug: "Not A Slug" }],
		["a control character in the name", { ...newProduct, name: "bad\u0000name" }],
		["a multi-line name", { ...newProduct, name: "two\nlines" }],
		["an overlong name", { ...newProduct, name: "n".repeat(201) }],
		["a zero category", { ...newProduct, categoryId: 0 }],
	])("400s for %s", async (_, body) => {
		const before = await productCount();
		await expectError(await sendJson("POST", "/v1/products", body), 400, "invalid_request");
		expect(await productCount()).toBe(before);
	});
});

describe("PATCH /v1/products/:id", () => {
	it("200s with the updated product and a new updatedAt", async () => {
		const res = await sendJson("PATCH", "/v1/products/2", { priceCents: 8800, categoryId: 2 });
		expect(res.status).toBe(200);
		const body = (await res.json()) as { data: { priceCents: number; categoryId: number; updatedAt: string } };
		expect(body.data).toMatchObject({ priceCents: 8800, categoryId: 2 });
		expect(body.data.updatedAt).not.toBe("2026-01-02T00:00:00.000Z");
	});

	it("404s for a missing product, 400s for an empty patch or bad id, 409s for a taken sku", async () => {
		await expectError(await sendJson("PATCH", "/v1/products/999", { stock: 1 }), 404, "not_found");
		await expectError(await sendJson("PATCH", "/v1/products/2", {}), 400, "invalid_request");
		await expectError(await sendJson("PATCH", "/v1/products/abc", { stock: 1 }), 400, "invalid_request");
		await expectError(await sendJson("PATCH", "/v1/products/2", { sku: "K-1" }), 409, "conflict");
		await expectError(await sendJson("PATCH", "/v1/products/2", { categoryId: 55 }), 400, "invalid_request");
	});
});

describe("DELETE /v1/products/:id", () => {
	it("204s, then 404s", async () => {
		const created = (await (await sendJson("POST", "/v1/products", { ...newProduct, sku: "DEL-1" })).json()) as {
			data: { id: number };
		};
		const path = `/v1/products/${created.data.id}`;
		const res = await fetchApp(path, { method: "DELETE", headers: ADMIN });
		expect(res.status).toBe(204);
		expect(await res.text()).toBe("");
		await expectError(await fetchApp(path, { method: "DELETE", headers: ADMIN }), 404, "not_found");
		await expectError(await fetchApp("/v1/products/x", { method: "DELETE", headers: ADMIN }), 400, "invalid_request");
	});
});

describe("POST /v1/categories and PATCH /v1/categories/:slug", () => {
	it("creates a category with Location, and 409s on a duplicate slug", async () => {
		const res = await sendJson("POST", "/v1/categories", { slug: "office", name: "Office" });
		expect(res.status).toBe(201);
		expect(res.headers.get("Location")).toBe("/v1/categories/office");
		expect(await res.json()).toMatchObject({ data: { slug: "office", name: "Office", description: "" } });
		await expectError(await sendJson("POST", "/v1/categories", { slug: "office", name: "Again" }), 409, "conflict");
		await expectError(
			await sendJson("POST", "/v1/categories", { slug: "Bad Slug", name: "x" }),
			400,
			"invalid_request",
		);
	});

	it("updates a category, and 404s for an unknown slug", async () => {
		const res = await sendJson("PATCH", "/v1/categories/kitchen", { description: "Everything for cooking" });
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ data: { slug: "kitchen", description: "Everything for cooking" } });
		await expectError(await sendJson("PATCH", "/v1/categories/none", { name: "x" }), 404, "not_found");
		await expectError(await sendJson("PATCH", "/v1/categories/kitchen", { slug: "garden" }), 409, "conflict");
	});
});

describe("POST /v1/products/:id/reviews", () => {
	it("201s and updates the product's rating summary", async () => {
		const res = await sendJson("POST", "/v1/products/1/reviews", { rating: 5, title: "Lovely", author: "ana" });
		expect(res.status).toBe(201);
		expect(await res.json()).toMatchObject({ data: { productId: 1, rating: 5, title: "Lovely", author: "ana" } });
		const product = (await (await get("/v1/products/1")).json()) as {
			data: { rating: { count: number; average: number } };
		};
		expect(product.data.rating.count).toBe(1);
		expect(product.data.rating.average).toBe(5);
	});

	it("404s for a missing product; 400s for a rating out of 1-5 or not an integer", async () => {
		await expectError(await sendJson("POST", "/v1/products/999/reviews", { rating: 4 }), 404, "not_found");
		for (const rating of ["0", "6", "4.5", "-1", '"5"', "null", "1e400", "5e0.5"]) {
			await expectError(
				await sendJson("POST", "/v1/products/1/reviews", `{"rating": ${rating}}`),
				400,
				"invalid_request",
			);
		}
	});
});
