import { describe, expect, it } from "vitest";
import { ADMIN, fetchApp, get } from "./helpers/fixtures";

describe("GET /openapi.json", () => {
	it("is an OpenAPI 3.1 document describing every route of the contract", async () => {
		const res = await get("/openapi.json");
		expect(res.status).toBe(200);
		const doc = (await res.json()) as {
			openapi: string;
			paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; security?: unknown }>>;
			components: { securitySchemes: Record<string, unknown> };
		};
		expect(doc.openapi).toBe("3.1.0");
		const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
			Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
		);
		expect(routes.sort()).toEqual(
			[
				"GET /v1/categories",
				"GET /v1/categories/{slug}",
				"GET /v1/products",
				"GET /v1/products/{id}",
				"GET /v1/products/{id}/reviews",
				"POST /v1/categories",
				"PATCH /v1/categories/{slug}",
				"POST /v1/products",
				"PATCH /v1/products/{id}",
				"DELETE /v1/products/{id}",
				"POST /v1/products/{id}/reviews",
				"GET /v1/_cache/stats",
				"POST /v1/webhooks/purge",
				"GET /v1/top-products",
				"POST /v1/_cache/purge",
			].sort(),
		);
		const list = doc.paths["/v1/products"]?.get;
		expect(list?.parameters?.map((p) => p.name).sort()).toEqual(["category", "limit", "page", "sort"]);
		expect(doc.paths["/v1/products"]?.post?.security).toEqual([{ bearerAuth: [] }]);
		expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
	});
});

describe("GET /docs", () => {
	it("serves the interactive reference, loading its script from this Worker only", async () => {
		const res = await get("/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await res.text();
		const sources = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
		expect(sources).toEqual(["/vendor/scalar-api-reference.js"]);
		expect(html).toContain("/openapi.json");
		expect(html).not.toMatch(/https?:\/\/(cdn|fonts)\./);
	});
});

describe("GET /_cache", () => {
	it("serves the inspector page with its scripts from this Worker and a strict CSP", async () => {
		const res = await get("/_cache");
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(res.headers.get("Content-Security-Policy")).toMatch(/script-src 'self'/);
		const html = await res.text();
		const sources = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
		expect(sources).toEqual(["/vendor/uplot.js", "/ops/cache-page.js"]);
		expect(html).not.toMatch(/https?:\/\//);
		expect(html).toContain('type="password"');
	});
});

describe("POST /v1/_cache/purge", () => {
	it("is admin only and invalidates like the webhook", async () => {
		const body = JSON.stringify({ tags: ["product:1"] });
		expect(
			(await fetchApp("/v1/_cache/purge", { method: "POST", headers: { "Content-Type": "application/json" }, body }))
				.status,
		).toBe(401);
		const res = await fetchApp("/v1/_cache/purge", {
			method: "POST",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body,
		});
		expect(res.status).toBe(202);
		expect(await res.json()).toMatchObject({ tags: ["product:1"], seq: expect.any(Number), purgeEverything: false });
		const bad = await fetchApp("/v1/_cache/purge", {
			method: "POST",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: '{"tags": ["bad tag"]}',
		});
		expect(bad.status).toBe(400);
	});
});
