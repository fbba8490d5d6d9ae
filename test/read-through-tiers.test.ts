import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

describe("the read path walks memory, colo, kv, then D1", () => {
	it("loads once from D1, stores in memory and the Cache API, in KV on the second request, then answers from memory", async () => {
		const a = testApp({ version: () => "walk", cacheName: "walk" });
		const first = await a.request("/v1/products/1");
		expect(first.status).toBe(200);
		// The catalog admits an entry to KV on its second request (kvAdmission "second-request"): not stored there yet.
		expect(cacheStatus(first)).toBe(
			"tiercache-kv; fwd=miss, tiercache-colo; fwd=miss; stored, tiercache-memory; fwd=miss; stored",
		);
		expect(await env.CACHE_KV.get("e:walk/product?p.id=1")).toBeNull();
		expect(first.headers.get("Server-Timing")).toMatch(
			/^clock;dur=[\d.]+, memory;dur=[\d.]+, colo;dur=[\d.]+, kv;dur=[\d.]+, origin;dur=[\d.]+$/,
		);
		const body = await first.text();

		const second = await a.request("/v1/products/1");
		expect(cacheStatus(second)).toMatch(/^tiercache-memory; hit; ttl=\d+$/);
		expect(second.headers.get("Server-Timing")).toMatch(/^memory;dur=[\d.]+$/);
		expect(await second.text()).toBe(body);
		expect(a.cache.stats.origin.loads).toBe(1);
		expect(a.cache.stats.tiers.memory).toMatchObject({ hits: 1, misses: 1, writes: 1 });
		expect(a.cache.stats.tiers.colo).toMatchObject({ misses: 1, writes: 1 });
		expect(a.cache.stats.tiers.kv).toMatchObject({ misses: 1, writes: 1 }); // written on the second request
		expect(await env.CACHE_KV.get("e:walk/product?p.id=1")).not.toBeNull();
		await a.request("/v1/products/1");
		expect(a.cache.stats.tiers.kv.writes).toBe(1); // once

		// Another isolate at the same location: its memory is empty, the Cache API is shared.
		const b = testApp({ version: () => "walk", cacheName: "walk" });
		const fromColo = await b.request("/v1/products/1");
		expect(cacheStatus(fromColo)).toMatch(/^tiercache-colo; hit; ttl=\d+, tiercache-memory; fwd=miss$/);
		expect(await fromColo.text()).toBe(body);
		expect(cacheStatus(await b.request("/v1/products/1"))).toMatch(/^tiercache-memory; hit/); // backfilled
		expect(b.cache.stats.origin.loads).toBe(0);

		// Another location: its own Cache API, the same KV.
		const c = testApp({ version: () => "walk", cacheName: "walk-elsewhere" });
		const fromKv = await c.request("/v1/products/1");
		expect(cacheStatus(fromKv)).toMatch(
			/^tiercache-kv; hit; ttl=\d+, tiercache-colo; fwd=miss, tiercache-memory; fwd=miss$/,
		);
		expect(await fromKv.text()).toBe(body);
		expect(cacheStatus(await c.request("/v1/products/1"))).toMatch(/^tiercache-memory; hit/);
		const d = testApp({ version: () => "walk", cacheName: "walk-elsewhere" });
		expect(cacheStatus(await d.request("/v1/products/1"))).toMatch(/^tiercache-colo; hit/); // backfilled by c
		expect(c.cache.stats.origin.loads + d.cache.stats.origin.loads).toBe(0);
	});

	it("keeps the stored entry in KV within KV's rules (expirationTtl >= 60 s, small metadata)", async () => {
		const a = testApp({ version: () => "kvrules" });
		await a.request("/v1/categories/kitchen");
		expect((await env.CACHE_KV.list({ prefix: "e:kvrules/" })).keys).toHaveLength(0); // a first load: not yet
		await a.request("/v1/categories/kitchen");
		const listed = await env.CACHE_KV.list({ prefix: "e:kvrules/" });
		expect(listed.keys).toHaveLength(1);
		const [key] = listed.keys;
		expect(key?.name).toBe("e:kvrules/category?p.slug=kitchen");
		expect(key?.expiration).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 60);
		expect(JSON.stringify(key?.metadata).length).toBeLessThanOrEqual(1024);
	});
});

describe("cache keys", () => {
	it("do not depend on parameter order or on spelling out defaults", async () => {
		const a = testApp();
		await a.request("/v1/products?sort=name&limit=2&category=kitchen");
		expect(cacheStatus(await a.request("/v1/products?category=kitchen&limit=2&sort=name"))).toMatch(/memory; hit/);
		await a.request("/v1/products");
		expect(cacheStatus(await a.request("/v1/products?page=1&limit=20&sort=newest"))).toMatch(/memory; hit/);
		expect(a.cache.stats.origin.loads).toBe(2);
	});

	it("differ by every parameter the route validates", async () => {
		const a = testApp();
		await a.request("/v1/products?limit=2");
		for (const path of ["/v1/products?limit=3", "/v1/products?limit=2&page=2", "/v1/products?limit=2&sort=name"]) {
			expect(cacheStatus(await a.request(path))).toMatch(/memory; fwd=miss; stored$/);
		}
	});

	it("include the version, so a new version never reads entries of the old one", async () => {
		const v1 = testApp({ version: () => "shape-1", cacheName: "shape" });
		await v1.request("/v1/products/2");
		const v2 = testApp({ version: () => "shape-2", cacheName: "shape" });
		expect(cacheStatus(await v2.request("/v1/products/2"))).toBe(
			"tiercache-kv; fwd=miss, tiercache-colo; fwd=miss; stored, tiercache-memory; fwd=miss; stored",
		);
	});

	it("by default carry a digest of the OpenAPI document, which changes with any response shape", async () => {
		const a = testApp({ shareKeys: true });
		await a.request("/v1/products/3");
		await a.request("/v1/products/3"); // KV takes the entry on its second request
		const listed = await env.CACHE_KV.list({ prefix: "e:1-" });
		expect(listed.keys.map((k) => k.name)).toEqual([expect.stringMatching(/^e:1-[0-9a-f]{12}\/product\?p\.id=3$/)]);
	});
});

describe("headers on cacheable answers", () => {
	it("carry the contract's Cache-Control, CDN headers, tags and ETag", async () => {
		const a = testApp();
		const res = await a.request("/v1/products?category=kitchen&limit=5");
		expect(res.headers.get("Cache-Control")).toBe("public, max-age=0");
		expect(res.headers.get("CDN-Cache-Control")).toMatch(
			/^max-age=(59|60), stale-while-revalidate=30, stale-if-error=300$/,
		);
		expect(res.headers.get("Cloudflare-CDN-Cache-Control")).toMatch(
			/^max-age=60, stale-while-revalidate=30, stale-if-error=300$/,
		);
		// Fastly takes Surrogate-Control before Cache-Control (it reads no CDN-Cache-Control).
		expect(res.headers.get("Surrogate-Control")).toBe(res.headers.get("CDN-Cache-Control"));
		expect(res.headers.get("Cache-Tag")).toBe("products,products:order:created,category:1,product:2,product:1");
		expect(res.headers.get("Surrogate-Key")).toBe("products products:order:created category:1 product:2 product:1");
		expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{16}"$/);
		expect(res.headers.get("Vary")).toBeNull();
	});

	it("answer a matching If-None-Match with 304, the ETag and no body, from any tier", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/1");
		const etag = first.headers.get("ETag") as string;
		for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
			const res = await a.request("/v1/products/1", { headers: { "If-None-Match": ifNoneMatch } });
			expect(res.status).toBe(304);
			expect(res.headers.get("ETag")).toBe(etag);
			expect(res.headers.get("Cache-Tag")).toBe("product:1,category:1");
			expect(await res.text()).toBe("");
		}
		expect((await a.request("/v1/products/1", { headers: { "If-None-Match": '"stale"' } })).status).toBe(200);
		expect(a.cache.stats.notModified).toBe(4);
	});

	it("answer HEAD from the cache without a body", async () => {
		const a = testApp();
		await a.request("/v1/categories");
		const res = await a.request("/v1/categories", { method: "HEAD" });
		expect(res.status).toBe(200);
		expect(cacheStatus(res)).toMatch(/memory; hit/);
		expect(await res.text()).toBe("");
	});

	it("mark 4xx other than a cached 404 no-store", async () => {
		const a = testApp();
		const res = await a.request("/v1/products?limit=0");
		expect(res.status).toBe(400);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(res.headers.get("Cache-Status")).toBeNull();
	});
});

describe("bypass", () => {
	it.each([
		["Authorization", { Authorization: "Bearer anything" }],
		["Cookie", { Cookie: "session=1" }],
	])("requests with %s skip every tier and store nothing", async (_, headers) => {
		const a = testApp();
		await a.request("/v1/products/2"); // a cached entry exists
		const res = await a.request("/v1/products/2", { headers });
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("private, no-store");
		expect(cacheStatus(res)).toBe("tiercache-kv; fwd=bypass, tiercache-colo; fwd=bypass, tiercache-memory; fwd=bypass");
		expect(res.headers.get("Cache-Tag")).toBeNull();
		expect(res.headers.get("CDN-Cache-Control")).toBeNull();
		expect(a.cache.stats.bypassed).toBe(1);
		expect(a.cache.stats.origin.loads).toBe(2);
		expect(a.cache.stats.tiers.memory.writes).toBe(1);
	});
});
